//! Hostile modules, each refused at load with an error that says what it
//! is: files that are not components, a component that imports what the
//! host does not give, compile bombs, a loop in `init`. After each, the same
//! engine still loads and runs a real stage; a chain keeps its running
//! module when a reload brings a bomb.
//!
//! Misbehaviour at run time (loops, memory, huge output, a wrong number of
//! verdicts…) is in `sandbox`, whose helpers this uses. The bombs are made
//! here, byte by byte: a component holding one core module.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sluice::transform::{
    MAX_FUNCTION_BYTES, MAX_FUNCTIONS, MAX_LOCALS, NotAComponent, StageFailure, StageLimits, StartStep, TooLarge,
    TransformError, check_size,
};

use super::sandbox::{
    chain, engine, engine_still_works, good_batch, misbehave, module, patched_validate, tempdir, tight, validate_params,
};

/// Loads the file `name` with `bytes` in a fresh directory, as stage `x`.
fn load(name: &str, bytes: &[u8]) -> TransformError {
    let path = tempdir().join(name);
    std::fs::write(&path, bytes).expect("write");
    engine().load_stage("x", &path, &toml::Table::new(), StageLimits::default()).expect_err("should be refused")
}

// ---- not a component ------------------------------------------------------------

#[test]
fn files_that_are_not_webassembly_are_refused_saying_what_they_are() {
    // The start of a real ELF executable: this test's own host binary.
    let elf: Vec<u8> =
        std::fs::read(env!("CARGO_BIN_EXE_sluice")).expect("sluice binary").into_iter().take(4096).collect();
    let cases: [(&str, &[u8], NotAComponent, &str); 4] = [
        ("empty.wasm", b"", NotAComponent::Empty, "the file is empty"),
        (
            "elf.wasm",
            &elf[..],
            NotAComponent::NotWasm { looks_like: Some("an ELF executable or library") },
            "it is not WebAssembly (no \\0asm header; it looks like an ELF executable or library)",
        ),
        (
            "notes.wasm",
            "a README saved under the wrong name — ünïcode too\n".as_bytes(),
            NotAComponent::NotWasm { looks_like: Some("a text file") },
            "it is not WebAssembly (no \\0asm header; it looks like a text file)",
        ),
        (
            "text.wasm",
            b"(component\n  (core module (func))\n)\n",
            NotAComponent::Text,
            "it is WebAssembly text (.wat), not the binary format; \
             build the transform for wasm32-wasip2 (scripts/build-transforms)",
        ),
    ];
    for (file, bytes, kind, says) in cases {
        match load(file, bytes) {
            TransformError::NotAComponent { stage, path, found } => {
                assert_eq!((stage.as_str(), path.file_name().and_then(|n| n.to_str())), ("x", Some(file)));
                assert_eq!(found, kind, "{file}");
                let err = TransformError::NotAComponent { stage, path: PathBuf::from(file), found };
                assert_eq!(err.to_string(), format!("stage \"x\": {file} is not a WebAssembly component: {says}"));
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    let missing = engine()
        .load_stage("x", &tempdir().join("missing.wasm"), &toml::Table::new(), StageLimits::default())
        .expect_err("missing");
    assert!(matches!(missing, TransformError::Read { .. }), "{missing:?}");
    engine_still_works();
}

#[test]
fn a_core_module_is_refused_saying_a_component_is_needed() {
    // A valid core module with one exported function: what building for
    // wasm32-unknown-unknown gives.
    let core = core_module(&[Body { locals: 0, code: &[0x41, 0x2a, 0x1a] }], Some("init"));
    match load("core.wasm", &core) {
        TransformError::NotAComponent { found: NotAComponent::CoreModule, .. } => {}
        other => panic!("{other:?}"),
    }
    let err = load("core.wasm", &core).to_string();
    assert!(
        err.ends_with(
            "core.wasm is not a WebAssembly component: it is a core WebAssembly module, not a component; \
         the host needs a component exporting sluice:transform/stage: build it for wasm32-wasip2 \
         (scripts/build-transforms)"
        ),
        "{err}"
    );
    engine_still_works();
}

// ---- imports ----------------------------------------------------------------------

#[test]
fn a_component_importing_what_the_host_does_not_give_is_refused_naming_it() {
    // validate.wasm, its imports renamed (same lengths): a made-up network
    // interface, and a real WASI proposal the host does not link.
    for (from, to) in [("wasi:cli/environment@", "evil:net/socket-open@"), ("wasi:cli/stdin@", "wasi:nn/tensor@")] {
        let path = patched_validate(from, to, "imports.wasm");
        let err = engine().load_stage("validate", &path, &validate_params(), StageLimits::default()).expect_err(to);
        assert!(matches!(err, TransformError::Link { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "stage \"validate\": {} needs imports this host does not provide \
                 (transforms get only sluice:transform/host and WASI without any capability): ",
                path.display()
            )),
            "{text}"
        );
        assert!(text.contains(&format!("`{to}0.2.")), "the import is named: {text}");
    }
    engine_still_works();
}

// ---- compile bombs ----------------------------------------------------------------

#[derive(Clone, Copy)]
/// One function of type `[] -> []`: `locals` i32 locals, then `code` and `end`.
struct Body<'a> {
    locals: u32,
    code: &'a [u8],
}

fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(content.len() as u64, out);
    out.extend_from_slice(content);
}

/// A core module (type, function, export and code sections) with these
/// functions, the first exported as `export` if given.
fn core_module(bodies: &[Body<'_>], export: Option<&str>) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut m);
    let mut funcs = Vec::new();
    leb(bodies.len() as u64, &mut funcs);
    funcs.resize(funcs.len() + bodies.len(), 0);
    section(3, &funcs, &mut m);
    if let Some(name) = export {
        let mut exports = vec![1];
        leb(name.len() as u64, &mut exports);
        exports.extend_from_slice(name.as_bytes());
        exports.extend_from_slice(&[0x00, 0x00]); // function 0
        section(7, &exports, &mut m);
    }
    let mut code = Vec::new();
    leb(bodies.len() as u64, &mut code);
    let mut body = Vec::new();
    for b in bodies {
        body.clear();
        if b.locals == 0 {
            body.push(0);
        } else {
            body.push(1);
            leb(u64::from(b.locals), &mut body);
            body.push(0x7f);
        }
        body.extend_from_slice(b.code);
        body.push(0x0b);
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut m);
    m
}

/// A component that holds `core` and nothing else: valid, so wasmtime
/// would compile it all before finding that it exports nothing.
fn component(core: &[u8]) -> Vec<u8> {
    let mut c = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, core, &mut c);
    c
}

/// Loads a bomb, which must be refused as too large, in well under the time
/// compiling it would take; returns why.
fn refused_fast(name: &str, bomb: &[u8]) -> TooLarge {
    let started = Instant::now();
    let err = load(name, bomb);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{name}: refused only after {elapsed:?}");
    match err {
        TransformError::TooLarge { what, .. } => what,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn the_bombs_are_otherwise_valid_components() {
    // Small ones of the same shapes compile and are refused only for
    // exporting no stage, so the refusals below are for their size.
    let nops = vec![0x01; 1000];
    for bodies in [
        vec![Body { locals: 0, code: &[] }; 100],
        vec![Body { locals: 0, code: &nops }],
        vec![Body { locals: 50_000, code: &[] }; 2],
    ] {
        let err = load("small.wasm", &component(&core_module(&bodies, None)));
        assert!(matches!(err, TransformError::Contract { .. }), "{err:?}");
        assert!(err.to_string().ends_with("it exports: nothing"), "{err}");
    }
}

#[test]
fn a_module_with_too_many_functions_is_refused_before_compiling() {
    let n = MAX_FUNCTIONS + 1;
    let bodies: Vec<Body<'_>> = (0..n).map(|_| Body { locals: 0, code: &[] }).collect();
    let bomb = component(&core_module(&bodies, None));
    assert!(bomb.len() < 1 << 20, "a bomb is small: {} bytes", bomb.len());
    assert_eq!(refused_fast("functions.wasm", &bomb), TooLarge::Functions { count: n, limit: MAX_FUNCTIONS });
    let text = load("functions.wasm", &bomb).to_string();
    assert!(
        text.ends_with(&format!(
            "functions.wasm is too large to compile: it defines {n} functions, \
             more than the {MAX_FUNCTIONS} a module may have"
        )),
        "{text}"
    );
    engine_still_works();
}

#[test]
fn a_function_too_large_is_refused_before_compiling() {
    // `i32.const 0; drop`, over and over, after a small first function.
    let huge: Vec<u8> = [0x41, 0x00, 0x1a].repeat(MAX_FUNCTION_BYTES as usize / 3 + 1);
    let bomb = component(&core_module(&[Body { locals: 0, code: &[] }, Body { locals: 0, code: &huge }], None));
    let bytes = huge.len() as u64 + 2;
    assert_eq!(
        refused_fast("function.wasm", &bomb),
        TooLarge::Function { module: 0, function: 1, bytes, limit: MAX_FUNCTION_BYTES }
    );
    let text = load("function.wasm", &bomb).to_string();
    assert!(
        text.ends_with(&format!(
            "function.wasm is too large to compile: function 1 of core module 0 has {bytes} bytes of code, \
             more than the {MAX_FUNCTION_BYTES} one function may have"
        )),
        "{text}"
    );
    engine_still_works();
}

#[test]
fn a_module_declaring_millions_of_locals_is_refused_before_compiling() {
    // Six bytes a function, 50 000 locals each (the most one may declare).
    let bodies: Vec<Body<'_>> = (0..100).map(|_| Body { locals: 50_000, code: &[] }).collect();
    let bomb = component(&core_module(&bodies, None));
    let count = (MAX_LOCALS / 50_000 + 1) * 50_000;
    assert_eq!(refused_fast("locals.wasm", &bomb), TooLarge::Locals { count, limit: MAX_LOCALS });
    engine_still_works();
}

#[test]
fn the_real_transforms_are_far_below_the_size_limits() {
    for name in ["validate", "stats", "misbehave"] {
        let bytes = std::fs::read(module(name)).expect("read");
        let shape = check_size(&bytes, &sluice::transform::CompileLimits::DEFAULT).expect(name);
        assert!(shape.modules >= 1 && shape.functions > 100, "{name}: {shape:?}");
        assert!(shape.functions * 20 < MAX_FUNCTIONS, "{name}: {shape:?}");
        assert!(shape.largest_function * 20 < MAX_FUNCTION_BYTES, "{name}: {shape:?}");
        assert!(shape.code_bytes * 20 < sluice::transform::MAX_CODE_BYTES, "{name}: {shape:?}");
        assert!(shape.locals * 20 < MAX_LOCALS, "{name}: {shape:?}");
    }
}

#[test]
fn a_reload_that_brings_a_bomb_keeps_the_running_module() {
    let dir = tempdir();
    let path = dir.join("validate.wasm");
    std::fs::copy(module("validate"), &path).expect("copy");
    let stage = engine().load_stage("validate", &path, &validate_params(), StageLimits::default()).expect("load");
    let mut c = chain(vec![stage]);
    let bodies: Vec<Body<'_>> = (0..=MAX_FUNCTIONS).map(|_| Body { locals: 0, code: &[] }).collect();
    std::fs::write(&path, component(&core_module(&bodies, None))).expect("bomb");
    let report = c.reload_changed(engine());
    assert!(report.reloaded.is_empty(), "{report:?}");
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(
        matches!(report.refused[0], TransformError::TooLarge { what: TooLarge::Functions { .. }, .. }),
        "{report:?}"
    );
    assert_eq!(c.run(&good_batch(3)).expect("the old module").stages[0].kept, 3);
}

// ---- init ---------------------------------------------------------------------

#[test]
fn a_loop_in_init_fails_the_load_with_a_timeout() {
    let started = Instant::now();
    let err = misbehave("init-loop", tight()).expect_err("init never returns");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    match &err {
        TransformError::StartFailed {
            stage,
            step: StartStep::Init,
            failure: StageFailure::Timeout { limit_ms: 200 },
        } => {
            assert_eq!(stage, "misbehave");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "stage \"misbehave\" failed in init: timed out after 200 ms");
    engine_still_works();
}
