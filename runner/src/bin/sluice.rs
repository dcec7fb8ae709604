fn main() -> anyhow::Result<()> {
    sluice::memory::tune();
    sluice::cli::main()
}
