//! `--output file.jsonl`: the raw values, one per line, instead of Kafka.
//! No broker needed; the file feeds `sluice try`. An `empty_value` pill is an
//! empty line. In the summary the file is partition 0 and a value's offset
//! is its line number, from 0.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::generator::Event;

#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    next_line: i64,
}

impl FileSink {
    pub fn create(path: &Path) -> anyhow::Result<FileSink> {
        let file = File::create(path).with_context(|| format!("creating the output file {}", path.display()))?;
        Ok(FileSink { path: path.to_path_buf(), out: BufWriter::new(file), next_line: 0 })
    }

    /// Appends the value; returns its line number.
    pub fn write(&mut self, event: &Event) -> anyhow::Result<i64> {
        self.out
            .write_all(&event.value)
            .and_then(|()| self.out.write_all(b"\n"))
            .with_context(|| format!("writing the output file {}", self.path.display()))?;
        self.next_line += 1;
        Ok(self.next_line - 1)
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        self.out.flush().with_context(|| format!("writing the output file {}", self.path.display()))
    }
}
