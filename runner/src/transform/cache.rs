//! Compiled modules kept on disk from one process to the next: wasmtime's
//! compile cache, keyed by the module's bytes and the engine's settings.
//! A Python or JavaScript module takes seconds to compile, at every start
//! and every `sluice try`, and a fraction of a second to load from here.
//!
//! Where: `SLUICE_MODULE_CACHE` (an absolute folder, or `off`), else
//! `$XDG_CACHE_HOME/sluice/modules`, else `~/.cache/sluice/modules`. The
//! folder holds native code that Sluice runs: only Sluice's user should be
//! able to write it. A cache that cannot be set up is reported once and the
//! modules are compiled as without it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that names the folder, or turns the cache off.
pub const ENV: &str = "SLUICE_MODULE_CACHE";

/// The folder the settings name: `None` when the cache is off or no home
/// folder is known.
fn folder(setting: Option<&str>, xdg_cache: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match setting.map(str::trim) {
        Some("off") | Some("") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let base = match (xdg_cache.filter(|p| Path::new(p).is_absolute()), home) {
                (Some(xdg), _) => PathBuf::from(xdg),
                (None, Some(home)) => Path::new(home).join(".cache"),
                (None, None) => return None,
            };
            Some(base.join("sluice/modules"))
        }
    }
}

/// The cache every engine of this process shares, set up on first use.
pub(crate) fn shared() -> Option<wasmtime::Cache> {
    static CACHE: OnceLock<Option<wasmtime::Cache>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let var = |name: &str| std::env::var(name).ok();
            let dir = folder(var(ENV).as_deref(), var("XDG_CACHE_HOME").as_deref(), var("HOME").as_deref())?;
            match open(&dir) {
                Ok(cache) => {
                    tracing::debug!(dir = %dir.display(), "compiled modules are cached on disk");
                    Some(cache)
                }
                Err(e) => {
                    tracing::warn!(
                        dir = %dir.display(),
                        error = %format!("{e:#}"),
                        "cannot cache compiled modules on disk ({ENV}); compiling them at every start"
                    );
                    None
                }
            }
        })
        .clone()
}

fn open(dir: &Path) -> wasmtime::Result<wasmtime::Cache> {
    let dir = if dir.is_absolute() { dir.to_path_buf() } else { std::env::current_dir()?.join(dir) };
    let mut config = wasmtime::CacheConfig::new();
    config.with_directory(dir);
    wasmtime::Cache::new(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_comes_from_the_setting_then_xdg_then_home() {
        assert_eq!(folder(Some("/srv/cache"), Some("/x"), Some("/home/u")), Some("/srv/cache".into()));
        assert_eq!(folder(Some("off"), Some("/x"), Some("/home/u")), None);
        assert_eq!(folder(Some(" "), Some("/x"), Some("/home/u")), None);
        assert_eq!(folder(None, Some("/x"), Some("/home/u")), Some("/x/sluice/modules".into()));
        // A relative XDG_CACHE_HOME is to be ignored, as the spec says.
        assert_eq!(folder(None, Some("rel"), Some("/home/u")), Some("/home/u/.cache/sluice/modules".into()));
        assert_eq!(folder(None, None, None), None);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = open(&file.path().join("below-a-file")).unwrap_err();
        assert!(format!("{err:#}").contains("failed to create cache directory"), "{err:#}");
    }
}
