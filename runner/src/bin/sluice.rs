fn main() -> anyhow::Result<()> {
    sluice::cli::main()
}
