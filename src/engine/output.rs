//! A task's output as text: the captured tail of its terminal (as a terminal shows it), and the
//! section of earlier outputs passed to later prompts.

/// How much captured output becomes the task's output.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Cap of the earlier-outputs section added to a prompt.
pub const PASS_OUTPUT_LIMIT: usize = 32 * 1024;
pub const CUT_MARKER: &str = "[... earlier output cut ...]\n";
/// What comes between a prompt and the earlier outputs passed with it.
const PASS_OUTPUT_HEADING: &str = "\n\n## Output of earlier tasks\n\n";
/// The most [`prompt_with_outputs`] adds to a prompt: what validation allows for when a plan
/// passes outputs and the prompt goes on the agent's command line.
pub const PASSED_OUTPUTS_MAX: usize = PASS_OUTPUT_HEADING.len() + PASS_OUTPUT_LIMIT + 1;

/// Keeps the last bytes of a stream, enough for `OUTPUT_LIMIT` of text after stripping escapes.
#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    const KEEP: usize = 2 * OUTPUT_LIMIT;

    pub fn push(&mut self, bytes: &[u8]) {
        // A batch larger than what is kept replaces everything before it.
        if bytes.len() >= Self::KEEP {
            self.buf.clear();
            self.buf
                .extend_from_slice(&bytes[bytes.len() - Self::KEEP..]);
            return;
        }
        self.buf.extend_from_slice(bytes);
        // Trim rarely (amortized): only when twice the kept size is reached.
        if self.buf.len() > 2 * Self::KEEP {
            let cut = self.buf.len() - Self::KEEP;
            self.buf.drain(..cut);
        }
    }

    /// The captured text ([`plain_text`]), at most `OUTPUT_LIMIT` bytes (the end is kept).
    pub fn text(&self) -> String {
        keep_end(&crate::term::text::plain_text(&self.buf), OUTPUT_LIMIT).to_string()
    }
}

/// The last `limit` bytes of `s`, starting at a character boundary.
pub fn keep_end(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut start = s.len() - limit;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A task's output as text for other prompts: a JSON string as itself, other JSON pretty-printed.
pub fn output_text(output: &serde_json::Value) -> String {
    match output {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// The prompt followed by the earlier outputs, each under its task name:
///
/// ```text
/// <prompt>
///
/// ## Output of earlier tasks
///
/// ### <task>
/// <output>
/// ```
///
/// The section after the heading is capped at `PASS_OUTPUT_LIMIT` bytes; when it is longer, the
/// oldest text is cut first and `CUT_MARKER` stands where it was.
pub fn prompt_with_outputs(prompt: &str, outputs: &[(String, String)]) -> String {
    if outputs.is_empty() {
        return prompt.to_string();
    }
    let mut body = String::new();
    for (task, text) in outputs {
        body.push_str(&format!("### {task}\n{}\n\n", text.trim_end()));
    }
    let body = body.trim_end();
    let body = if body.len() > PASS_OUTPUT_LIMIT {
        format!(
            "{CUT_MARKER}{}",
            keep_end(body, PASS_OUTPUT_LIMIT - CUT_MARKER.len())
        )
    } else {
        body.to_string()
    };
    format!("{prompt}{PASS_OUTPUT_HEADING}{body}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_end() {
        let mut tail = Tail::default();
        for i in 0..100_000 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert!(text.len() <= OUTPUT_LIMIT);
        assert!(text.ends_with("line 99999\n"));
    }

    #[test]
    fn a_batch_larger_than_the_tail_keeps_its_end() {
        let mut tail = Tail::default();
        tail.push(b"old\n");
        let big: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        tail.push(big.as_bytes());
        let text = tail.text();
        assert!(text.len() <= OUTPUT_LIMIT);
        assert!(text.ends_with("line 49999\n"));
        assert!(!text.contains("old"));
    }

    #[test]
    fn passed_outputs_are_capped_oldest_first() {
        let outputs = vec![
            ("a".to_string(), "A".repeat(30_000)),
            ("b".to_string(), "B".repeat(10_000)),
        ];
        let prompt = prompt_with_outputs("do it", &outputs);
        let section = prompt
            .split("## Output of earlier tasks\n\n")
            .nth(1)
            .unwrap();
        assert!(section.len() <= PASS_OUTPUT_LIMIT + 1);
        assert!(section.starts_with(CUT_MARKER));
        assert!(section.contains("### b\nBBBB"));
        assert!(prompt.starts_with("do it\n\n"));
        assert!(prompt.len() <= "do it".len() + PASSED_OUTPUTS_MAX);
    }
}
