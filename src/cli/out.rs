//! The commands' stdout. Its reader may go away before grove is done (`grove ls | head -1`):
//! that ends what is printed, not the command, which still does its job and exits with its own
//! code. Other write errors (a full disk behind `> file`) stay errors.

use std::fmt::Display;
use std::io::{self, Write};

/// Stdout for a command's output: once its reader has gone (EPIPE), the rest is dropped.
pub struct Stdout<W = io::Stdout> {
    inner: W,
    reader_gone: bool,
}

/// The process's stdout, as a command writes its output.
pub fn stdout() -> Stdout {
    Stdout::over(io::stdout())
}

impl<W: Write> Stdout<W> {
    fn over(inner: W) -> Self {
        Stdout {
            inner,
            reader_gone: false,
        }
    }

    /// `done`, unless the reader went away during it: then everything is taken as written.
    fn unless_gone<T>(&mut self, done: io::Result<T>, all: T) -> io::Result<T> {
        match done {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.reader_gone = true;
                Ok(all)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.reader_gone {
            return Ok(buf.len());
        }
        let written = self.inner.write(buf);
        self.unless_gone(written, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.reader_gone {
            return Ok(());
        }
        let flushed = self.inner.flush();
        self.unless_gone(flushed, ())
    }
}

/// One line on stdout where nothing is left to do about a failed write (the command's work is
/// done, or a hangup took the terminal): never a panic, as `println!` would.
pub fn say(line: impl Display) {
    let _ = writeln!(stdout(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader left after `room` bytes, or a disk that is full.
    struct Closing {
        written: Vec<u8>,
        room: usize,
        error: io::ErrorKind,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written.len() >= self.room {
                return Err(self.error.into());
            }
            let n = buf.len().min(self.room - self.written.len());
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn closing(room: usize, error: io::ErrorKind) -> Stdout<Closing> {
        Stdout::over(Closing {
            written: Vec::new(),
            room,
            error,
        })
    }

    #[test]
    fn a_reader_that_left_ends_the_output_not_the_writer() {
        let mut out = closing(4, io::ErrorKind::BrokenPipe);
        writeln!(out, "first line").unwrap();
        writeln!(out, "second line").unwrap();
        out.flush().unwrap();
        assert_eq!(out.inner.written, b"firs");
        assert!(out.reader_gone);
    }

    #[test]
    fn other_write_errors_stay_errors() {
        let mut out = closing(0, io::ErrorKind::StorageFull);
        let e = writeln!(out, "line").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(!out.reader_gone);
    }
}
