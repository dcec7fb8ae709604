//! `sluice new`: a standalone transform project in a folder of the author's
//! choice, in Rust, Python or JavaScript. Every project gets the same example
//! stage (drop test sessions, dead-letter what is not an event, one
//! `sessions` row per kept record), a native test, `build.sh` for the
//! `.wasm` component, a sample for `sluice try`, and a pipeline to try it
//! in or to copy from.
//!
//! The files come from `transforms/templates/` and the language libraries
//! (`transforms/python/`, `transforms/js/`, the contract `transforms/wit/`),
//! compiled into the binary, so `sluice new` works wherever `sluice` does.
//! A Rust project depends on the SDK by path (`--sdk`, `SLUICE_SDK`, or the
//! checkout this binary was built from); the SDK's contract version is the
//! one the host checks at load.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Name;

/// The languages `sluice new` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

/// What `sluice new` was asked for.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub lang: Lang,
    /// The folder to create the project in (it gets a subfolder `name`).
    pub parent: PathBuf,
    /// The Rust SDK (`transforms/sdk` of a Sluice checkout); Rust only.
    pub sdk: Option<PathBuf>,
}

/// Why no project was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{0}")]
    BadName(String),
    #[error("{} already exists and is not empty; choose another name or folder", .0.display())]
    Exists(PathBuf),
    #[error(
        "cannot find the Rust SDK (transforms/sdk of a Sluice checkout) at {}: pass --sdk PATH or set SLUICE_SDK",
        .0.display()
    )]
    NoSdk(PathBuf),
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// One file of a project: its path inside it and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    pub path: &'static str,
    pub text: String,
    pub executable: bool,
}

/// A file written as it is from the repository: its path in the project,
/// its path in the repository, its text.
struct Embedded(
    &'static str,
    #[cfg_attr(not(test), allow(dead_code, reason = "the test that every template file is embedded reads it"))]
    &'static str,
    &'static str,
);

macro_rules! embedded {
    ($path:literal, $repo_path:literal) => {
        Embedded($path, $repo_path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $repo_path)))
    };
}

const WIT: Embedded = embedded!("wit/transform.wit", "transforms/wit/transform.wit");

const RUST: &[Embedded] = &[
    embedded!("src/lib.rs", "transforms/sessions/src/lib.rs"),
    embedded!("build.sh", "transforms/templates/rust/build.sh"),
    embedded!("sample.jsonl", "transforms/templates/rust/sample.jsonl"),
    embedded!(".gitignore", "transforms/templates/rust/.gitignore"),
    embedded!("rust-toolchain.toml", "transforms/templates/rust/rust-toolchain.toml"),
    embedded!(".cargo/config.toml", "transforms/templates/rust/.cargo/config.toml"),
];

const PYTHON: &[Embedded] = &[
    embedded!("app.py", "transforms/templates/python/app.py"),
    embedded!("test_app.py", "transforms/templates/python/test_app.py"),
    embedded!("build.sh", "transforms/templates/python/build.sh"),
    embedded!("sample.jsonl", "transforms/templates/python/sample.jsonl"),
    embedded!(".gitignore", "transforms/templates/python/.gitignore"),
    embedded!("sluice_transform/__init__.py", "transforms/python/sluice_transform/__init__.py"),
    embedded!("sluice_transform/batch.py", "transforms/python/sluice_transform/batch.py"),
    embedded!("sluice_transform/output.py", "transforms/python/sluice_transform/output.py"),
    embedded!("sluice_transform/stage.py", "transforms/python/sluice_transform/stage.py"),
    embedded!("sluice_transform/_log.py", "transforms/python/sluice_transform/_log.py"),
    embedded!("sluice_transform/_wit.py", "transforms/python/sluice_transform/_wit.py"),
];

const JS: &[Embedded] = &[
    embedded!("app.js", "transforms/templates/js/app.js"),
    embedded!("app.test.js", "transforms/templates/js/app.test.js"),
    embedded!("package.json", "transforms/templates/js/package.json"),
    embedded!("build.mjs", "transforms/templates/js/build.mjs"),
    embedded!("sample.jsonl", "transforms/templates/js/sample.jsonl"),
    embedded!(".gitignore", "transforms/templates/js/.gitignore"),
    embedded!("sluice-transform/index.js", "transforms/js/sluice-transform/index.js"),
    embedded!("sluice-transform/batch.js", "transforms/js/sluice-transform/batch.js"),
    embedded!("sluice-transform/output.js", "transforms/js/sluice-transform/output.js"),
    embedded!("sluice-transform/stage.js", "transforms/js/sluice-transform/stage.js"),
    embedded!("sluice-transform/log.js", "transforms/js/sluice-transform/log.js"),
    embedded!("sluice-transform/wit.js", "transforms/js/sluice-transform/wit.js"),
    embedded!("sluice-transform/testing.js", "transforms/js/sluice-transform/testing.js"),
    embedded!("sluice-transform/component.js", "transforms/js/sluice-transform/component.js"),
];

/// Each language's README, with `{{name}}` for the project's name.
const README: [(Lang, Embedded); 3] = [
    (Lang::Rust, embedded!("README.md", "transforms/templates/rust/README.md")),
    (Lang::Python, embedded!("README.md", "transforms/templates/python/README.md")),
    (Lang::Js, embedded!("README.md", "transforms/templates/js/README.md")),
];

/// The SDK of the checkout this binary was built from.
fn built_in_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../transforms/sdk")
}

/// The files of a new project, without writing anything. `sdk` is the
/// Rust SDK's folder as the project's `Cargo.toml` should name it.
pub fn files(name: &Name, lang: Lang, sdk: &Path) -> Vec<ProjectFile> {
    let name = name.as_str();
    let verbatim = match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    let mut files: Vec<ProjectFile> = verbatim
        .iter()
        .chain([&WIT].into_iter().filter(|_| lang != Lang::Rust))
        .map(|Embedded(path, _, text)| ProjectFile {
            path,
            text: (*text).to_string(),
            executable: path.ends_with(".sh"),
        })
        .collect();
    if lang == Lang::Rust {
        files.push(ProjectFile { path: "Cargo.toml", text: cargo_toml(name, sdk), executable: false });
    }
    let readme = README.iter().find(|(l, _)| *l == lang).map_or("", |(_, Embedded(_, _, text))| text);
    files.push(ProjectFile { path: "README.md", text: readme.replace("{{name}}", name), executable: false });
    files.push(ProjectFile { path: "pipeline.toml", text: pipeline_toml(name), executable: false });
    files.push(ProjectFile { path: "schema.sql", text: schema_sql(name), executable: false });
    files
}

/// Writes the project; returns its folder.
pub fn create(req: &NewProject) -> Result<PathBuf, ScaffoldError> {
    let name = Name::try_from(req.name.clone()).map_err(ScaffoldError::BadName)?;
    let dir = req.parent.join(name.as_str());
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(ScaffoldError::Exists(dir));
    }
    let sdk = match req.lang {
        Lang::Rust => {
            let sdk = req.sdk.clone().unwrap_or_else(built_in_sdk);
            let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.clone()))?;
            if !sdk.join("Cargo.toml").is_file() {
                return Err(ScaffoldError::NoSdk(sdk));
            }
            sdk
        }
        Lang::Python | Lang::Js => PathBuf::new(),
    };
    for file in files(&name, req.lang, &sdk) {
        let path = dir.join(file.path);
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, &file.text)?;
            if file.executable {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        };
        write(&path).map_err(|source| ScaffoldError::Write { path: path.clone(), source })?;
    }
    Ok(dir.canonicalize().unwrap_or(dir))
}

/// `sluice new`: writes the project and says what to do next.
pub fn main(req: &NewProject) -> anyhow::Result<()> {
    let dir = create(req)?;
    let name = &req.name;
    let (test, needs) = match req.lang {
        Lang::Rust => ("cargo test", "rustup (the toolchain and wasm32-wasip2 come by themselves)"),
        Lang::Python => ("python3 -m unittest", "python3 (build.sh installs componentize-py into .venv)"),
        Lang::Js => ("npm install && npm test", "node 20+ and npm (npm install brings componentize-js)"),
    };
    let build = if req.lang == Lang::Js { "npm run build" } else { "./build.sh" };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "created {} ({}): the example stage, its test, a sample and a pipeline",
        dir.display(),
        req.lang.as_str()
    );
    let _ = writeln!(out, "needs: {needs}");
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  cd {}", dir.display());
    let _ = writeln!(out, "  {test}");
    let _ = writeln!(out, "  {build}                                  # writes {name}.wasm");
    let _ = writeln!(out, "  sluice try -c pipeline.toml -i sample.jsonl");
    let _ =
        writeln!(out, "then add the [[transforms]] and [[sink.tables]] of pipeline.toml to your pipeline (README.md)");
    print!("{out}");
    Ok(())
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib is the WebAssembly component; rlib lets `cargo test` run natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
# The Sluice transform SDK; its contract version is checked by the host at load.
sluice-transform = {{ path = {sdk:?} }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
debug = false
strip = true

# A project of its own, even inside another Cargo workspace's folder.
[workspace]
"#,
        sdk = sdk.display().to_string()
    )
}

/// The MySQL table for the example's `sessions` output.
fn table(name: &str) -> String {
    format!("{}_sessions", name.replace('-', "_"))
}

fn pipeline_toml(name: &str) -> String {
    let table = table(name);
    format!(
        r#"# A pipeline with this one stage: `sluice try -c pipeline.toml -i sample.jsonl`
# runs it over the sample, `sluice run` runs it for real (create the table with
# schema.sql first). To add the stage to another pipeline, copy the
# [[transforms]] and [[sink.tables]] blocks below into it.
name = "{name}"

[source]
brokers = "${{KAFKA_BROKERS:-127.0.0.1:9092}}"
topic = "${{SLUICE_TOPIC:-study-log-events}}"
group_id = "${{SLUICE_GROUP:-{name}}}"
auto_offset_reset = "earliest"

[[transforms]]
name = "{name}"
# Relative to this file. Replacing the file swaps the module in a running
# Sluice, between two batches, without a restart.
module = "{name}.wasm"
[transforms.params]
prefix = "test-"

[sink]
database_url = "${{DATABASE_URL}}"

[[sink.tables]]
table = "{table}"
from = "{name}.sessions"
mode = "insert"
[sink.tables.columns]
session_id = "session_id"
event_type = "event_type"
kafka_partition = "@partition"
kafka_offset = "@offset"

[dead_letter]
table = "dead_letter"
"#
    )
}

fn schema_sql(name: &str) -> String {
    let table = table(name);
    format!(
        r#"-- The table the example's `sessions` output goes to (see pipeline.toml).
CREATE TABLE IF NOT EXISTS {table} (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    session_id VARCHAR(128) NOT NULL,
    event_type VARCHAR(32) NULL,
    kafka_partition INT NOT NULL,
    kafka_offset BIGINT NOT NULL,
    UNIQUE KEY uk_{table}_source (kafka_partition, kafka_offset)
);
"#
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Pipeline;

    fn name(s: &str) -> Name {
        Name::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn every_language_gets_a_stage_a_test_a_build_a_sample_and_a_pipeline_that_parses() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let files = files(&name("my-filter"), lang, Path::new("/opt/sluice/transforms/sdk"));
            let paths: Vec<&str> = files.iter().map(|f| f.path).collect();
            for needed in ["README.md", "pipeline.toml", "schema.sql", "sample.jsonl", ".gitignore"] {
                assert!(paths.contains(&needed), "{lang:?}: {needed} missing from {paths:?}");
            }
            let readme = &files.iter().find(|f| f.path == "README.md").unwrap().text;
            assert!(!readme.contains("{{"), "{lang:?}: a placeholder is left in README.md");
            assert!(readme.contains("my-filter"), "{lang:?}");
            let dir = tempfile::tempdir().unwrap();
            let toml = &files.iter().find(|f| f.path == "pipeline.toml").unwrap().text;
            std::fs::write(dir.path().join("pipeline.toml"), toml).unwrap();
            let pipeline = Pipeline::load(&dir.path().join("pipeline.toml")).unwrap();
            assert_eq!(pipeline.config.transforms[0].name.get_ref().as_str(), "my-filter");
            assert_eq!(pipeline.module_path(&pipeline.config.transforms[0]), dir.path().join("my-filter.wasm"));
            assert!(files.iter().filter(|f| f.path.ends_with(".sh")).all(|f| f.executable));
        }
    }

    #[test]
    fn the_rust_project_names_the_sdk_and_stands_alone() {
        let files = files(&name("my-filter"), Lang::Rust, Path::new("/opt/sluice/transforms/sdk"));
        let cargo = &files.iter().find(|f| f.path == "Cargo.toml").unwrap().text;
        let manifest: toml::Table = toml::from_str(cargo).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("my-filter"));
        assert_eq!(manifest["dependencies"]["sluice-transform"]["path"].as_str(), Some("/opt/sluice/transforms/sdk"));
        assert!(manifest.contains_key("workspace"), "its own workspace root");
        assert!(files.iter().any(|f| f.path == "src/lib.rs" && f.text.contains("#[transform]")));
    }

    #[test]
    fn the_python_and_js_projects_carry_the_contract_and_their_library() {
        for (lang, lib) in [(Lang::Python, "sluice_transform/"), (Lang::Js, "sluice-transform/")] {
            let files = files(&name("f"), lang, Path::new(""));
            let wit = files.iter().find(|f| f.path == "wit/transform.wit").unwrap();
            assert!(wit.text.contains("package sluice:transform@0.3.0;"));
            assert!(files.iter().any(|f| f.path.starts_with(lib)), "{lang:?}");
        }
    }

    #[test]
    fn a_bad_name_or_a_used_folder_is_refused_and_nothing_is_written() {
        let parent = tempfile::tempdir().unwrap();
        let req = |name: &str| NewProject {
            name: name.into(),
            lang: Lang::Python,
            parent: parent.path().to_path_buf(),
            sdk: None,
        };
        let err = create(&req("My Filter")).unwrap_err();
        assert!(err.to_string().contains("is not a valid name"), "{err}");
        assert!(std::fs::read_dir(parent.path()).unwrap().next().is_none());

        std::fs::create_dir(parent.path().join("taken")).unwrap();
        std::fs::write(parent.path().join("taken/keep.txt"), "mine").unwrap();
        let err = create(&req("taken")).unwrap_err();
        assert!(err.to_string().contains("already exists and is not empty"), "{err}");
        assert_eq!(std::fs::read_to_string(parent.path().join("taken/keep.txt")).unwrap(), "mine");

        let rust = NewProject { lang: Lang::Rust, sdk: Some(parent.path().join("nowhere")), ..req("r") };
        let err = create(&rust).unwrap_err();
        assert!(err.to_string().contains("cannot find the Rust SDK"), "{err}");
    }

    #[test]
    fn the_embedded_templates_are_every_file_of_their_folders() {
        // A file added to a template folder or a language library must also
        // be listed in this module.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let embedded: Vec<&str> =
            RUST.iter().chain(PYTHON).chain(JS).chain(README.iter().map(|(_, e)| e)).map(|e| e.1).collect();
        let mut found = Vec::new();
        for dir in ["transforms/templates", "transforms/python/sluice_transform", "transforms/js/sluice-transform"] {
            files_under(&root, Path::new(dir), &mut found);
        }
        assert!(found.len() > 10, "the template folders are there: {found:?}");
        for path in &found {
            assert!(embedded.contains(&path.as_str()), "{path} is not written by sluice new");
        }
    }

    /// Files under `dir` (relative to `root`), leaving out what builds and
    /// tests leave behind.
    fn files_under(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if ["__pycache__", "node_modules", ".venv", "target"].contains(&name.as_str()) || name.ends_with(".wasm") {
                continue;
            }
            let path = dir.join(&name);
            if entry.file_type().unwrap().is_dir() {
                files_under(root, &path, found);
            } else {
                found.push(path.to_string_lossy().into_owned());
            }
        }
    }
}
