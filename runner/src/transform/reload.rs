//! Noticing that a module file changed: size and modification time first
//! (cheap, checked often), then the content hash (so that a `touch` or a
//! copy of the same bytes reloads nothing).

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::precheck::MAX_MODULE_BYTES;

/// What a module file looked like when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub len: u64,
    pub modified: Option<SystemTime>,
    pub sha256: [u8; 32],
}

/// Reads a module file and fingerprints what was read. The size and time
/// are taken before reading, so a write racing the read shows up as a
/// change on the next check. Reads at most one byte more than
/// [`MAX_MODULE_BYTES`]: enough for the size check to refuse a larger file
/// without the host holding all of it.
pub(crate) fn read_module(path: &Path) -> std::io::Result<(Vec<u8>, Fingerprint)> {
    let meta = std::fs::metadata(path)?;
    let cap = MAX_MODULE_BYTES + 1;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0));
    std::fs::File::open(path)?.take(cap).read_to_end(&mut bytes)?;
    let sha256 = Sha256::digest(&bytes).into();
    Ok((bytes, Fingerprint { len: meta.len(), modified: meta.modified().ok(), sha256 }))
}

/// What a check found.
#[derive(Debug)]
pub(crate) enum Check {
    /// Same size and time, or same bytes.
    Unchanged,
    /// Same bytes under a new time: remember the new fingerprint.
    Touched(Fingerprint),
    /// New bytes.
    Changed(Vec<u8>, Fingerprint),
}

/// Compares the file at `path` with `known`.
pub(crate) fn check(path: &Path, known: &Fingerprint) -> std::io::Result<Check> {
    let meta = std::fs::metadata(path)?;
    if meta.len() == known.len && meta.modified().ok() == known.modified {
        return Ok(Check::Unchanged);
    }
    let (bytes, fingerprint) = read_module(path)?;
    if fingerprint.sha256 == known.sha256 {
        Ok(Check::Touched(fingerprint))
    } else {
        Ok(Check::Changed(bytes, fingerprint))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn notices_changes_but_not_touches() {
        let dir = std::env::temp_dir().join(format!("sluice-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.wasm");
        std::fs::write(&path, b"one").unwrap();
        let (bytes, fp) = read_module(&path).unwrap();
        assert_eq!(bytes, b"one");
        assert!(matches!(check(&path, &fp).unwrap(), Check::Unchanged));

        // Same bytes, another time: only the fingerprint moves.
        let stale = Fingerprint { modified: None, ..fp.clone() };
        match check(&path, &stale).unwrap() {
            Check::Touched(new) => assert_eq!(new.sha256, fp.sha256),
            other => panic!("{other:?}"),
        }

        std::fs::write(&path, b"two!").unwrap();
        match check(&path, &fp).unwrap() {
            Check::Changed(bytes, new) => {
                assert_eq!(bytes, b"two!");
                assert_ne!(new.sha256, fp.sha256);
            }
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
