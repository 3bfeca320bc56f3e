mod sample;
use std::path::PathBuf;
fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or("sample-data".into()));
    sample::run(&out, forest_sample::figures::SEED, 1)
}
