//! What is checked on a module's bytes before Cranelift sees them: that the
//! file is a WebAssembly component at all, and that its code is of a size a
//! transform can have.
//!
//! Compiling is the one step of loading that no per-stage limit covers: it
//! runs on the host's threads, before any store exists. A compile bomb (a
//! few megabytes declaring a million functions, one function of megabytes,
//! or locals by the million) would hold the cores and memory for minutes, at start-up or on a reload while the other stages run. So
//! the sizes below are checked first, by walking only the section and
//! function-body headers with wasmparser (the parser wasmtime uses): no
//! validation, no instruction is read, a few milliseconds for a large
//! module. Whatever does not parse is left to wasmtime, which then reports
//! it precisely.
//!
//! The limits are 50 to 2 000 times what real transforms need: the modules
//! built from `transforms/` are 0.23–0.34 MB: three core modules with
//! 360–440 functions, the largest 18 KB, up to 280 KB of code and 1 700
//! locals in all. They leave room for components that embed an
//! interpreter. Without them, a 0.4 MB component of 100 001 empty functions
//! keeps wasmtime compiling for seconds on end (the limit refuses it in
//! about 20 ms in a debug build).

use std::fmt;

/// The largest module file the host reads and compiles, in bytes.
pub const MAX_MODULE_BYTES: u64 = 128 << 20;
/// The most functions a module may define, over all its core modules
/// (imports are not compiled and do not count).
pub const MAX_FUNCTIONS: u64 = 100_000;
/// The largest body one function may have, in bytes: a function is
/// compiled on one thread, and register allocation can take time and memory
/// that grow faster than its size.
pub const MAX_FUNCTION_BYTES: u64 = 1 << 20;
/// The most code a module may have, over all its functions, in bytes.
pub const MAX_CODE_BYTES: u64 = 32 << 20;
/// The most locals all functions together may declare: each is a variable
/// Cranelift sets up, and a body of three bytes can declare thousands.
pub const MAX_LOCALS: u64 = 4_000_000;

/// Why a file is not a component, told from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAComponent {
    /// The file has no bytes.
    Empty,
    /// The WebAssembly text format (`.wat`), not the binary.
    Text,
    /// No `\0asm` header; `looks_like` names what it seems to be instead,
    /// when that is recognizable.
    NotWasm { looks_like: Option<&'static str> },
    /// A core module: built for `wasm32-unknown-unknown` or `wasm32-wasip1`
    /// without the component adapter.
    CoreModule,
}

impl fmt::Display for NotAComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAComponent::Empty => f.write_str("the file is empty"),
            NotAComponent::Text => f.write_str(
                "it is WebAssembly text (.wat), not the binary format; \
                 build the transform for wasm32-wasip2 (scripts/build-transforms)",
            ),
            NotAComponent::NotWasm { looks_like } => {
                f.write_str("it is not WebAssembly (no \\0asm header")?;
                if let Some(what) = looks_like {
                    write!(f, "; it looks like {what}")?;
                }
                f.write_str(")")
            }
            NotAComponent::CoreModule => f.write_str(
                "it is a core WebAssembly module, not a component; the host needs a component \
                 exporting sluice:transform/stage: build it for wasm32-wasip2 (scripts/build-transforms)",
            ),
        }
    }
}

/// Refuses a file that is not a component, from its header. `Ok` for a
/// component header (of any version: wasmtime names a wrong one).
pub fn check_kind(bytes: &[u8]) -> Result<(), NotAComponent> {
    match bytes {
        [] => Err(NotAComponent::Empty),
        // Version 1, layer 0: a core module.
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Err(NotAComponent::CoreModule),
        [0, b'a', b's', b'm', ..] => Ok(()),
        _ => Err(looks_like(bytes)),
    }
}

/// A guess at what a file that is not WebAssembly is.
fn looks_like(bytes: &[u8]) -> NotAComponent {
    let magic: &[(&[u8], &'static str)] = &[
        (b"\x7fELF", "an ELF executable or library"),
        (b"MZ", "a Windows executable"),
        (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
        (b"\x1f\x8b", "a gzip archive"),
        (b"PK\x03\x04", "a zip archive"),
        (b"#!", "a script"),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| bytes.starts_with(m)) {
        return NotAComponent::NotWasm { looks_like: Some(what) };
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(s) => Some(s),
        // A multi-byte character cut at the end of the window.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(t) if t.trim_start().starts_with("(module") || t.trim_start().starts_with("(component") => {
            NotAComponent::Text
        }
        Some(t) if !t.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            NotAComponent::NotWasm { looks_like: Some("a text file") }
        }
        _ => NotAComponent::NotWasm { looks_like: None },
    }
}

/// The sizes that [`check_size`] holds a module to; [`CompileLimits::DEFAULT`]
/// are the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    pub module_bytes: u64,
    pub functions: u64,
    pub function_bytes: u64,
    pub code_bytes: u64,
    pub locals: u64,
}

impl CompileLimits {
    pub const DEFAULT: CompileLimits = CompileLimits {
        module_bytes: MAX_MODULE_BYTES,
        functions: MAX_FUNCTIONS,
        function_bytes: MAX_FUNCTION_BYTES,
        code_bytes: MAX_CODE_BYTES,
        locals: MAX_LOCALS,
    };
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits::DEFAULT
    }
}

/// Which size limit a module goes over, with what it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooLarge {
    /// The file is larger than [`MAX_MODULE_BYTES`] (`bytes` may be the
    /// limit plus one: the host stops reading there).
    File { bytes: u64, limit: u64 },
    /// It defines more than [`MAX_FUNCTIONS`] functions (counted up to the
    /// core module where the limit is passed).
    Functions { count: u64, limit: u64 },
    /// Function `function` of core module `module` (both counted from 0, in
    /// the order they appear in the file) is larger than [`MAX_FUNCTION_BYTES`].
    Function { module: u32, function: u32, bytes: u64, limit: u64 },
    /// Its code is larger than [`MAX_CODE_BYTES`] in all.
    Code { bytes: u64, limit: u64 },
    /// Its functions declare more than [`MAX_LOCALS`] locals in all.
    Locals { count: u64, limit: u64 },
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TooLarge::File { bytes, limit } => {
                write!(f, "the file has {bytes} bytes, more than the {limit} a module may have")
            }
            TooLarge::Functions { count, limit } => {
                write!(f, "it defines {count} functions, more than the {limit} a module may have")
            }
            TooLarge::Function { module, function, bytes, limit } => write!(
                f,
                "function {function} of core module {module} has {bytes} bytes of code, \
                 more than the {limit} one function may have"
            ),
            TooLarge::Code { bytes, limit } => {
                write!(f, "it has {bytes} bytes of code, more than the {limit} a module may have")
            }
            TooLarge::Locals { count, limit } => {
                write!(f, "its functions declare {count} locals, more than the {limit} a module may have")
            }
        }
    }
}

/// What [`check_size`] counted in a module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleShape {
    /// Bytes in the file.
    pub bytes: u64,
    /// Core modules, nested ones included.
    pub modules: u32,
    /// Functions defined, over all core modules.
    pub functions: u64,
    /// Bytes of code (code sections), over all core modules.
    pub code_bytes: u64,
    /// The largest function body, in bytes.
    pub largest_function: u64,
    /// Locals declared, over all functions.
    pub locals: u64,
}

/// Refuses a module larger than `limits` allow, before it is compiled, at
/// the first limit passed; else returns what it counted. Reads only
/// headers; what does not parse passes (with what was counted until then),
/// for wasmtime to report.
pub fn check_size(bytes: &[u8], limits: &CompileLimits) -> Result<ModuleShape, TooLarge> {
    use wasmparser::{Encoding, Parser, Payload};

    let mut shape = ModuleShape { bytes: bytes.len() as u64, ..ModuleShape::default() };
    if shape.bytes > limits.module_bytes {
        return Err(TooLarge::File { bytes: shape.bytes, limit: limits.module_bytes });
    }
    // The function being read in the current core module, counted from 0.
    let mut function = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { return Ok(shape) };
        match payload {
            Payload::Version { encoding: Encoding::Module, .. } => {
                shape.modules += 1;
                function = 0;
            }
            Payload::CodeSectionStart { count, size, .. } => {
                shape.functions += u64::from(count);
                if shape.functions > limits.functions {
                    return Err(TooLarge::Functions { count: shape.functions, limit: limits.functions });
                }
                shape.code_bytes += u64::from(size);
                if shape.code_bytes > limits.code_bytes {
                    return Err(TooLarge::Code { bytes: shape.code_bytes, limit: limits.code_bytes });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                let size = range.end - range.start;
                if size > limits.function_bytes {
                    return Err(TooLarge::Function {
                        module: shape.modules.saturating_sub(1),
                        function,
                        bytes: size,
                        limit: limits.function_bytes,
                    });
                }
                shape.largest_function = shape.largest_function.max(size);
                let Ok(reader) = body.get_locals_reader() else { return Ok(shape) };
                for group in reader {
                    let Ok((count, _)) = group else { return Ok(shape) };
                    shape.locals += u64::from(count);
                }
                if shape.locals > limits.locals {
                    return Err(TooLarge::Locals { count: shape.locals, limit: limits.locals });
                }
                function += 1;
            }
            _ => {}
        }
    }
    Ok(shape)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(check_kind(b""), Err(NotAComponent::Empty));
        assert_eq!(check_kind(b"\0asm\x01\0\0\0rest"), Err(NotAComponent::CoreModule));
        assert_eq!(check_kind(b"\0asm\x0d\0\x01\0"), Ok(()));
        assert_eq!(
            check_kind(b"\x7fELF\x02\x01\x01"),
            Err(NotAComponent::NotWasm { looks_like: Some("an ELF executable or library") })
        );
        assert_eq!(check_kind(b"hello\n"), Err(NotAComponent::NotWasm { looks_like: Some("a text file") }));
        assert_eq!(check_kind(b"  (module (func))"), Err(NotAComponent::Text));
        assert_eq!(check_kind(b"\x01\x02\x03\xff"), Err(NotAComponent::NotWasm { looks_like: None }));
        assert_eq!(
            NotAComponent::NotWasm { looks_like: Some("a text file") }.to_string(),
            "it is not WebAssembly (no \\0asm header; it looks like a text file)"
        );
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

    /// A core module whose functions, of type `[] -> []`, declare
    /// `locals[i]` i32 locals and run `nops[i]` `nop`s.
    fn core(funcs: &[(u32, usize)]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        section(1, &[1, 0x60, 0, 0], &mut m);
        let mut decls = Vec::new();
        leb(funcs.len() as u64, &mut decls);
        decls.extend(std::iter::repeat_n(0, funcs.len()));
        section(3, &decls, &mut m);
        let mut code = Vec::new();
        leb(funcs.len() as u64, &mut code);
        for &(locals, nops) in funcs {
            let mut body = Vec::new();
            if locals == 0 {
                body.push(0);
            } else {
                body.push(1);
                leb(u64::from(locals), &mut body);
                body.push(0x7f);
            }
            body.extend(std::iter::repeat_n(0x01, nops));
            body.push(0x0b);
            leb(body.len() as u64, &mut code);
            code.extend_from_slice(&body);
        }
        section(10, &code, &mut m);
        m
    }

    /// A component holding these core modules.
    fn component(modules: &[Vec<u8>]) -> Vec<u8> {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        for m in modules {
            section(1, m, &mut c);
        }
        c
    }

    fn small() -> CompileLimits {
        CompileLimits { module_bytes: 10_000, functions: 10, function_bytes: 100, code_bytes: 1000, locals: 50 }
    }

    #[test]
    fn sizes_are_counted_over_every_core_module() {
        let c = component(&[core(&[(2, 10), (0, 0)]), core(&[(3, 20)])]);
        let shape = check_size(&c, &small()).unwrap();
        assert_eq!(
            (shape.bytes, shape.modules, shape.functions, shape.largest_function, shape.locals),
            (c.len() as u64, 2, 3, 24, 5)
        );
        // Per body, its size byte and the body (locals, nops, end).
        assert_eq!(shape.code_bytes, (1 + 14 + 1 + 2) + (1 + 24));
    }

    #[test]
    fn each_limit_is_enforced_and_named() {
        let check = |modules: &[Vec<u8>]| check_size(&component(modules), &small()).unwrap_err();
        let six = core(&[(0, 0); 6]);
        assert_eq!(check(&[six.clone(), six]), TooLarge::Functions { count: 12, limit: 10 });
        let big = core(&[(0, 0), (0, 0), (0, 200)]);
        assert_eq!(
            check(&[core(&[(0, 1)]), big]),
            TooLarge::Function { module: 1, function: 2, bytes: 202, limit: 100 }
        );
        // Ten functions of 100 bytes, each with its size byte.
        let many = core(&[(0, 98); 5]);
        assert_eq!(check(&[many.clone(), many]), TooLarge::Code { bytes: 1010, limit: 1000 });
        assert_eq!(check(&[core(&[(30, 0), (30, 0)])]), TooLarge::Locals { count: 60, limit: 50 });
        let file = component(&vec![core(&[(0, 0)]); 1000]);
        assert_eq!(
            check_size(&file, &small()).unwrap_err(),
            TooLarge::File { bytes: file.len() as u64, limit: 10_000 }
        );
        assert_eq!(
            TooLarge::Function { module: 1, function: 2, bytes: 202, limit: 100 }.to_string(),
            "function 2 of core module 1 has 202 bytes of code, more than the 100 one function may have"
        );
    }

    #[test]
    fn what_does_not_parse_is_left_to_wasmtime() {
        let mut c = component(&[core(&[(0, 0)])]);
        c.extend_from_slice(&[1, 0xff]);
        assert!(check_size(&c, &small()).is_ok());
        assert!(check_size(b"\0asm\x0d\0\x01\0\xff", &CompileLimits::DEFAULT).is_ok());
    }
}
