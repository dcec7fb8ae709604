//! Property tests of `pipeline.toml` parsing: whatever the text, parsing
//! never panics, and it either succeeds or fails with errors that name the
//! file and, where there is one, the line (shown, with a caret under the
//! column).
//!
//! Bounded and deterministic: each property runs a fixed number of cases
//! from a fixed seed. The seeds for the mutations are the files in
//! `runner/tests/fuzz/config/`, `runner/tests/config/{valid,invalid}/` and
//! the repository's `pipeline.toml`; a failure proptest finds is kept in
//! `runner/proptest-regressions/config/fuzz.txt` and replayed first.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{RngAlgorithm, RngSeed};

use super::{ConfigError, Pipeline};

/// The name every case is parsed under.
const FILE: &str = "fuzz-case.toml";

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x51_0000_01ce),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// Every seed file's text, read once.
fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = repo_root();
        let mut paths = vec![root.join("pipeline.toml")];
        for dir in ["runner/tests/fuzz/config", "runner/tests/config/valid", "runner/tests/config/invalid"] {
            let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("read {dir}: {e}"));
            let mut found: Vec<_> = entries
                .map(|e| e.expect("dir entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            paths.extend(found);
        }
        paths.iter().map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).collect()
    })
}

/// Parses `text` as [`FILE`] and checks the outcome.
fn parse_and_check(text: &str) {
    match Pipeline::from_text(Path::new(FILE), text.to_owned()) {
        // The database URL's variables are expanded only when asked for; a
        // failure then is located the same way.
        Ok(pipeline) => {
            if let Err(e) = pipeline.database_url() {
                check_error(text, &e);
            }
        }
        Err(e) => check_error(text, &e),
    }
}

/// Every message names the file; one with a position names a line of
/// `text`, quotes that line and puts a caret within it.
fn check_error(text: &str, error: &ConfigError) {
    let ConfigError::Invalid { path, messages } = error else {
        panic!("parsing text read no file, yet: {error}");
    };
    assert_eq!(path, Path::new(FILE));
    assert!(!messages.is_empty(), "an error without a message");
    let lines: Vec<&str> = text.split('\n').collect();
    for message in messages {
        let rest = message
            .strip_prefix(FILE)
            .and_then(|r| r.strip_prefix(':'))
            .unwrap_or_else(|| panic!("the message does not start with the file name: {message:?}"));
        let Some((line_no, column)) = position(rest) else {
            // No position: only an error about the file as a whole, and
            // the TOML parser's nesting limit, which it reports without a
            // span (found by `token_soup_parses_or_fails_at_a_line`: a
            // dotted key of more than 80 parts).
            assert!(
                rest.starts_with(" transforms: a pipeline needs at least one")
                    || rest == " (top level): recursion limit",
                "an error without a line: {message:?}"
            );
            continue;
        };
        assert!((1..=lines.len()).contains(&line_no), "line {line_no} of {}: {message:?}", lines.len());
        let line = lines[line_no - 1];
        assert!(column >= 1 && column <= line.chars().count() + 1, "column {column} of {line:?}: {message:?}");
        let gutter = " ".repeat(line_no.to_string().len());
        let snippet = format!("\n{gutter} |\n{line_no} | {line}\n{gutter} | {}^", " ".repeat(column - 1));
        assert!(message.ends_with(&snippet), "the line is not shown under {message:?}");
    }
}

/// `12:5: …` as (12, 5).
fn position(rest: &str) -> Option<(usize, usize)> {
    let (line, rest) = rest.split_once(':')?;
    let (column, rest) = rest.split_once(':')?;
    rest.starts_with(' ').then_some(())?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// Pieces of TOML syntax, of the schema and of trouble.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "#",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\\",
    "\\u",
    "\\U0010FFFF",
    "\\uD800",
    "\0",
    "\u{feff}",
    "\u{2028}",
    "é",
    "세션",
    "𝄞",
    "\u{301}",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "1979-05-27",
    "${",
    "}",
    "${X",
    "${SLUICE_FUZZ_UNSET}",
    "$$",
    "${A:-",
    ":-",
    "@",
    "@offset",
    "@ofset",
    "name",
    "source",
    "sink",
    "transforms",
    "[[transforms]]",
    "[sink]",
    "[[sink.tables]]",
    "[sink.tables.columns]",
    "[source.kafka]",
    "[transforms.limits]",
    "[dead_letter]",
    "mode = \"accumulate\"",
    "key = []",
    "from = \"a.b\"",
    "table = \"dead_letter\"",
    "ssl_mode = \"disabled\"",
    "ssl_cert = \"c\"",
    "a.b.c",
    "\"a\nb\" = 1",
    "x = 1",
    "inf",
    "nan",
    "-inf",
    "+nan",
];

/// Numbers TOML may or may not take, for the bounded integer fields.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        "[0-9]{19,40}",
        "-[0-9]{19,40}",
        (0u64..=300).prop_map(|n| n.to_string()),
        select(vec![
            "0",
            "-0",
            "+0",
            "1e400",
            "-1e400",
            "1e3",
            "0x7FFFFFFFFFFFFFFF",
            "0xFFFFFFFFFFFFFFFF",
            "0b1",
            "0o777",
            "1_000",
            "1__0",
            "_1",
            "07",
            "9223372036854775808",
            "-9223372036854775809",
            "4294967296",
            "1.",
            ".5",
        ])
        .prop_map(String::from),
    ]
}

/// `[[[…]]]`, `{a={a=…}}` and the like, `depth` deep.
fn nested(depth: usize, kind: u8) -> String {
    match kind % 4 {
        0 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}1{}", "{a=".repeat(depth), "}".repeat(depth)),
        2 => format!("{}1{}", "[{a=".repeat(depth), "}]".repeat(depth)),
        _ => format!("{}a = 1", "a.".repeat(depth)),
    }
}

/// A piece of text to put into a file.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(TOKENS).prop_map(String::from),
        2 => number(),
        1 => "\\PC{0,12}",
        1 => any::<String>(),
        1 => "\\PC{0,8}".prop_map(|s| format!("{s:?}")),
        1 => (1usize..200, any::<u8>()).prop_map(|(d, k)| nested(d, k)),
    ]
}

/// One change to a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: Index,
        len: usize,
    },
    Duplicate {
        at: Index,
        len: usize,
        to: Index,
    },
    Insert {
        at: Index,
        piece: String,
    },
    Replace {
        at: Index,
        len: usize,
        piece: String,
    },
    /// Replaces what follows the first `=` of a line.
    Value {
        line: Index,
        piece: String,
    },
    SwapLines {
        a: Index,
        b: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => (any::<Index>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<Index>(), 1usize..80, any::<Index>()).prop_map(|(at, len, to)| Mutation::Duplicate { at, len, to }),
        2 => (any::<Index>(), piece()).prop_map(|(at, piece)| Mutation::Insert { at, piece }),
        2 => (any::<Index>(), 1usize..20, piece()).prop_map(|(at, len, piece)| Mutation::Replace { at, len, piece }),
        3 => (any::<Index>(), prop_oneof![number(), piece()]).prop_map(|(line, piece)| Mutation::Value { line, piece }),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
    ]
}

/// Applies `m` to `bytes`. Cuts may fall inside a character; the text is
/// then read with replacement characters.
fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    let at = |i: &Index| if n == 0 { 0 } else { i.index(n + 1) };
    match m {
        Mutation::Delete { at: i, len } => {
            let start = at(i);
            bytes.drain(start..(start + len).min(n));
        }
        Mutation::Duplicate { at: i, len, to } => {
            let start = at(i);
            let span = bytes[start..(start + len).min(n)].to_vec();
            let to = at(to);
            bytes.splice(to..to, span);
        }
        Mutation::Insert { at: i, piece } => {
            let start = at(i);
            bytes.splice(start..start, piece.bytes());
        }
        Mutation::Replace { at: i, len, piece } => {
            let start = at(i);
            bytes.splice(start..(start + len).min(n), piece.bytes());
        }
        Mutation::Value { line, piece } => {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .collect();
            let start = starts[line.index(starts.len())];
            let end = bytes[start..].iter().position(|b| *b == b'\n').map_or(n, |i| start + i);
            if let Some(eq) = bytes[start..end].iter().position(|b| *b == b'=') {
                let value_start = start + eq + 1;
                bytes.splice(value_start..end, format!(" {piece}").into_bytes());
            }
        }
        Mutation::SwapLines { a, b } => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            *bytes = lines.join("\n").into_bytes();
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Any text at all.
    #[test]
    fn any_text_parses_or_fails_at_a_line(text in any::<String>()) {
        parse_and_check(&text);
    }

    /// Text made of TOML's and the schema's own pieces, which gets further
    /// than random characters.
    #[test]
    fn token_soup_parses_or_fails_at_a_line(pieces in prop::collection::vec(piece(), 0..40)) {
        parse_and_check(&pieces.concat());
    }

    /// The seed files with a few spans deleted, duplicated, replaced or
    /// inserted, values swapped for others (huge numbers, unicode, deep
    /// nesting) and lines swapped.
    #[test]
    fn mutated_seeds_parse_or_fail_at_a_line(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let seeds = seeds();
        let mut bytes = seeds[seed.index(seeds.len())].clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        parse_and_check(&String::from_utf8_lossy(&bytes));
    }
}

/// The bounded integer fields: a number in range is taken as it is, any
/// other value (out of range, huge, negative, a float, not a number) fails
/// at that field's line and names the field.
mod bounded_fields {
    use super::*;

    /// (table header, key, field path, min, max), all in `full.toml`.
    const FIELDS: &[(&str, &str, &str, i128, i128)] = &[
        ("[source]", "max_records", "source.max_records", 1, 100_000),
        ("[source]", "max_bytes", "source.max_bytes", 1024, 268_435_456),
        ("[source]", "max_wait_ms", "source.max_wait_ms", 1, 600_000),
        ("[source]", "max_pending_batches", "source.max_pending_batches", 1, 1024),
        ("[transforms.limits]", "memory_mb", "transforms[0].limits.memory_mb", 1, 4096),
        ("[transforms.limits]", "time_ms", "transforms[0].limits.time_ms", 1, 600_000),
        ("[transforms.limits]", "stack_kb", "transforms[0].limits.stack_kb", 64, 16_384),
        ("[transforms.limits]", "log_kb", "transforms[0].limits.log_kb", 0, 16_384),
        ("[sink]", "max_connections", "sink.max_connections", 1, 256),
        ("[sink]", "max_retry_backoff_ms", "sink.max_retry_backoff_ms", 10, 3_600_000),
        ("[dead_letter]", "broken_deploy_percent", "dead_letter.broken_deploy_percent", 1, 100),
    ];

    fn full_seed() -> String {
        std::fs::read_to_string(repo_root().join("runner/tests/fuzz/config/full.toml")).expect("full.toml")
    }

    /// `full.toml` with `key` of the table `header` set to `value`, and the
    /// line it is on.
    fn with_value(header: &str, key: &str, value: &str) -> (String, usize) {
        let mut out = Vec::new();
        let mut line_no = 0;
        let mut in_table = false;
        for (i, line) in full_seed().lines().enumerate() {
            if line.starts_with('[') {
                in_table = line == header;
            }
            if in_table && line.split_once(" = ").is_some_and(|(k, _)| k == key) {
                out.push(format!("{key} = {value}"));
                line_no = i + 1;
            } else {
                out.push(line.to_owned());
            }
        }
        assert!(line_no > 0, "{header} {key} is not in full.toml");
        (out.join("\n"), line_no)
    }

    proptest! {
        #![proptest_config(config(256))]

        #[test]
        fn in_range_or_an_error_at_the_field(field in select(FIELDS), value in number()) {
            let (header, key, path, min, max) = field;
            let (text, line_no) = with_value(header, key, &value);
            // What TOML reads the value as, if an integer.
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|t| t.get("v").and_then(toml::Value::as_integer));
            match Pipeline::from_text(Path::new(FILE), text.clone()) {
                Ok(pipeline) => {
                    let n = parsed.map(i128::from).unwrap_or_else(|| panic!("{value} was taken for {path}"));
                    prop_assert!((min..=max).contains(&n), "{n} was taken for {path}");
                    let shown = format!("{:?}", pipeline.config);
                    prop_assert!(shown.contains(&format!("{key}: {n}")), "{shown}");
                }
                Err(e) => {
                    check_error(&text, &e);
                    let message = e.to_string();
                    prop_assert!(message.starts_with(&format!("{FILE}:{line_no}:")), "{message}");
                    if let Some(n) = parsed {
                        prop_assert!(!(min..=max).contains(&i128::from(n)), "{n} in range, yet: {message}");
                        prop_assert!(message.contains(&format!("{path}: {n} is out of range")), "{message}");
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// `[transforms.params]` takes any TOML value: nesting a few levels deep
    /// parses, nesting past the parser's limit fails at the value's line
    /// (rather than overflowing the stack).
    #[test]
    fn deep_nesting_in_params_is_refused_at_its_line(depth in 1usize..400, kind in 0u8..3) {
        let text = format!(
            "name = \"deep\"\n[source]\nbrokers = \"b\"\ntopic = \"t\"\ngroup_id = \"g\"\n\
             [[transforms]]\nname = \"v\"\nmodule = \"v.wasm\"\n[transforms.params]\n\
             deep = {}\n[sink]\ndatabase_url = \"mysql://db/x\"\n",
            nested(depth, kind),
        );
        match Pipeline::from_text(Path::new(FILE), text.clone()) {
            Ok(_) => prop_assert!(depth <= 80, "{depth} levels parsed"),
            Err(e) => {
                prop_assert!(depth > 20, "{depth} levels refused: {e}");
                check_error(&text, &e);
                prop_assert!(e.to_string().starts_with(&format!("{FILE}:10:")), "{e}");
            }
        }
    }

    /// A file that is not UTF-8 is refused, naming the file.
    #[test]
    fn a_file_that_is_not_utf8_is_refused_naming_it(
        seed in any::<Index>(),
        at in any::<Index>(),
        bad in select(vec![&b"\xff"[..], b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"]),
    ) {
        let seeds = seeds();
        let mut bytes = seeds[seed.index(seeds.len())].clone().into_bytes();
        let at = at.index(bytes.len() + 1);
        bytes.splice(at..at, bad.iter().copied());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not-utf8.toml");
        std::fs::write(&path, &bytes).expect("write");
        let err = Pipeline::load(&path).expect_err("not UTF-8");
        prop_assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let message = err.to_string();
        prop_assert!(message.starts_with(&format!("cannot read {}: ", path.display())), "{message}");
    }
}

/// Every seed, unchanged: the valid ones parse, the others fail properly.
#[test]
fn every_seed_parses_or_fails_at_a_line() {
    assert!(seeds().len() >= 15, "seeds missing: {}", seeds().len());
    for text in seeds() {
        parse_and_check(text);
    }
    for name in ["full.toml", "crlf.toml", "inline.toml"] {
        let path = repo_root().join("runner/tests/fuzz/config").join(name);
        let pipeline = Pipeline::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!pipeline.config.transforms.is_empty());
    }
}
