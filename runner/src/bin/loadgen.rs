//! `loadgen`: the simulated AI server. Everything lives in
//! [`sluice::loadgen`]; run `loadgen --help` for the flags.

fn main() -> anyhow::Result<()> {
    sluice::loadgen::cli::main()
}
