//! `loadgen`: the simulated AI server. Everything lives in the library;
//! run `loadgen --help` for the flags.

fn main() -> anyhow::Result<()> {
    loadgen::cli::main()
}
