//! The pid line of a wrapped Modal command: the first stdout line, which
//! carries the command's pid (so a deadline can kill it) and is stripped
//! from the output.

/// The first stdout line of a wrapped command, as it arrives.
#[derive(Default)]
pub(crate) struct PidLine {
    head: Vec<u8>,
    pub(crate) pid: Option<u32>,
    done: bool,
}

impl PidLine {
    /// Takes the pid line out of `chunk`; returns the bytes that are output.
    pub(crate) fn strip(&mut self, chunk: Vec<u8>) -> Vec<u8> {
        if self.done {
            return chunk;
        }
        self.head.extend_from_slice(&chunk);
        let Some(end) = self.head.iter().position(|b| *b == b'\n') else {
            return Vec::new();
        };
        self.done = true;
        self.pid = std::str::from_utf8(&self.head[..end])
            .ok()
            .and_then(|t| t.trim().parse().ok());
        let output = self.head.split_off(end + 1);
        self.head.clear();
        output
    }

    /// Whatever was held back when stdout ended without a full line.
    pub(crate) fn rest(&mut self) -> Vec<u8> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        std::mem::take(&mut self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::PidLine;

    #[test]
    fn pid_line_is_stripped_across_chunks() {
        let mut line = PidLine::default();
        assert_eq!(line.strip(b"12".to_vec()), b"");
        assert_eq!(line.strip(b"34\nhello".to_vec()), b"hello");
        assert_eq!(line.pid, Some(1234));
        assert_eq!(line.strip(b"\nmore".to_vec()), b"\nmore");
        assert_eq!(
            line.rest(),
            b"",
            "nothing is held back once the line is out"
        );
    }

    #[test]
    fn held_back_bytes_come_out_when_stdout_ends_early() {
        let mut line = PidLine::default();
        assert_eq!(line.strip(b"odd".to_vec()), b"");
        assert_eq!(line.rest(), b"odd");
        assert_eq!(line.pid, None);
    }
}
