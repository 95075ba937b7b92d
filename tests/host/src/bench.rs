pub async fn run(_requests: usize, _concurrency: usize) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
