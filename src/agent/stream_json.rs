//! Claude Code's `--output-format stream-json` turned into a readable transcript: bytes of the
//! stream in, transcript bytes for the pane and parsed events out. Pure, so it is tested
//! without a terminal; the raw stream is logged elsewhere.
//!
//! The stream is one JSON object per line: `system`/`init` (session_id, model), `assistant`
//! messages (text and tool_use blocks), `user` messages (tool results), and a final `result`
//! (subtype, is_error, result, num_turns, duration_ms, total_cost_usd, usage). Lines that are not
//! JSON are shown as they are.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an agent run cost, as Claude Code reports it in its result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub num_turns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Usage {
    /// Adds `other`'s counts; the session becomes `other`'s when it has one (the latest).
    pub fn add(&mut self, other: &Usage) {
        self.cost_usd += other.cost_usd;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.num_turns += other.num_turns;
        if other.session_id.is_some() {
            self.session_id.clone_from(&other.session_id);
        }
    }

    /// The sum of `usages`, or None when there is none.
    pub fn total<'a>(usages: impl IntoIterator<Item = &'a Usage>) -> Option<Usage> {
        usages.into_iter().fold(None, |sum, u| {
            let mut sum = sum.unwrap_or_default();
            sum.add(u);
            Some(sum)
        })
    }
}

/// A cost as shown to people: `$0.0123`.
pub fn dollars(usd: f64) -> String {
    format!("${usd:.4}")
}

/// The final `result` object of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    pub subtype: String,
    pub is_error: bool,
    /// The final text (absent in some error results).
    pub text: Option<String>,
    pub duration_ms: Option<u64>,
    pub usage: Usage,
}

impl StreamResult {
    /// Why the attempt failed, when the result is an error.
    pub fn error(&self) -> Option<String> {
        if !self.is_error {
            return None;
        }
        let detail = self
            .text
            .as_deref()
            .and_then(|t| t.lines().find(|l| !l.trim().is_empty()))
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        Some(format!(
            "claude ended with an error ({}){detail}",
            self.subtype
        ))
    }
}

/// Facts parsed from the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Init { session_id: String, model: String },
    Result(StreamResult),
}

/// What one `feed` produced.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    /// Transcript text with terminal line endings and colors, for the pane.
    pub transcript: Vec<u8>,
    pub events: Vec<StreamEvent>,
}

/// A JSON line longer than this is shown as text rather than held on to.
const MAX_LINE: usize = 16 * 1024 * 1024;
/// A tool call's main argument is cut to this many characters.
const ARG_CHARS: usize = 160;

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// The adapter: holds a partial line between chunks and the names of tool calls, so a tool
/// error can say which tool failed.
#[derive(Debug, Default)]
pub struct StreamJson {
    line: Vec<u8>,
    /// The current line does not start with `{`: its bytes go to the pane as they come.
    passthrough: bool,
    tools: HashMap<String, String>,
    last_text: Option<String>,
}

impl StreamJson {
    pub fn feed(&mut self, bytes: &[u8]) -> Rendered {
        let mut out = Rendered::default();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.line.is_empty() && !self.passthrough && rest[0] != b'{' {
                self.passthrough = true;
            }
            let end = rest.iter().position(|&b| b == b'\n');
            let (piece, done) = match end {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[piece.len()..];
            if self.passthrough {
                out.transcript.extend_from_slice(piece);
                self.passthrough = !done;
                continue;
            }
            self.line.extend_from_slice(piece);
            if done {
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, &mut out);
            } else if self.line.len() > MAX_LINE {
                out.transcript.append(&mut self.line);
                self.passthrough = true;
            }
        }
        out
    }

    /// The stream ended: a last line without a newline is read too.
    pub fn finish(&mut self) -> Rendered {
        let mut out = Rendered::default();
        self.passthrough = false;
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.line_done(&line, &mut out);
        }
        out
    }

    fn line_done(&mut self, line: &[u8], out: &mut Rendered) {
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(obj)) => self.object(&Value::Object(obj), out),
            _ => {
                out.transcript.extend_from_slice(trimmed.as_bytes());
                out.transcript.extend_from_slice(b"\r\n");
            }
        }
    }

    fn object(&mut self, v: &Value, out: &mut Rendered) {
        let t = &mut out.transcript;
        match v["type"].as_str() {
            Some("system") if v["subtype"] == "init" => {
                let session_id = str_of(&v["session_id"]);
                let model = str_of(&v["model"]);
                push_line(
                    t,
                    &format!("{DIM}● claude · {model} · session {session_id}{RESET}"),
                );
                out.events.push(StreamEvent::Init { session_id, model });
            }
            Some("assistant") => {
                for block in blocks(&v["message"]["content"]) {
                    match block["type"].as_str() {
                        Some("text") => {
                            let text = str_of(&block["text"]);
                            for l in text.trim_end().lines() {
                                push_line(t, &printable(l));
                            }
                            self.last_text = Some(text);
                        }
                        Some("tool_use") => {
                            let name = str_of(&block["name"]);
                            let arg = one_line(&main_argument(&name, &block["input"]), ARG_CHARS);
                            push_line(t, &format!("{CYAN}→ {name}{RESET} {arg}"));
                            self.tools.insert(str_of(&block["id"]), name);
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                for block in blocks(&v["message"]["content"]) {
                    if block["type"] != "tool_result" || block["is_error"] != true {
                        continue;
                    }
                    let id = str_of(&block["tool_use_id"]);
                    let tool = self.tools.get(&id).map_or("tool", String::as_str);
                    let content = tool_result_text(&block["content"]);
                    let first = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    push_line(
                        t,
                        &format!(
                            "{RED}✗ {tool} failed:{RESET} {}",
                            one_line(first, ARG_CHARS)
                        ),
                    );
                }
            }
            Some("result") => {
                let result = parse_result(v);
                push_line(t, &result_line(&result));
                if let Some(text) = &result.text {
                    let repeated = self.last_text.as_deref().map(str::trim) == Some(text.trim());
                    if !repeated || result.is_error {
                        for l in text.trim_end().lines() {
                            push_line(t, &printable(l));
                        }
                    }
                }
                out.events.push(StreamEvent::Result(result));
            }
            // Other kinds (stream events, rate-limit notices, …) carry nothing to show.
            _ => {}
        }
    }
}

fn parse_result(v: &Value) -> StreamResult {
    let count = |x: &Value| x.as_u64().unwrap_or(0);
    StreamResult {
        subtype: v["subtype"].as_str().unwrap_or("unknown").to_string(),
        is_error: v["is_error"].as_bool().unwrap_or(false),
        text: v["result"].as_str().map(str::to_string),
        duration_ms: v["duration_ms"].as_u64(),
        usage: Usage {
            cost_usd: v["total_cost_usd"].as_f64().unwrap_or(0.0),
            input_tokens: count(&v["usage"]["input_tokens"]),
            output_tokens: count(&v["usage"]["output_tokens"]),
            num_turns: count(&v["num_turns"]),
            session_id: v["session_id"].as_str().map(str::to_string),
        },
    }
}

fn result_line(r: &StreamResult) -> String {
    let mut facts = vec![format!(
        "{} turn{}",
        r.usage.num_turns,
        if r.usage.num_turns == 1 { "" } else { "s" }
    )];
    if let Some(ms) = r.duration_ms {
        facts.push(format!("{:.1}s", ms as f64 / 1000.0));
    }
    facts.push(dollars(r.usage.cost_usd));
    let facts = facts.join(" · ");
    if r.is_error {
        format!("{RED}{BOLD}✗ {}{RESET} {DIM}{facts}{RESET}", r.subtype)
    } else {
        format!("{GREEN}{BOLD}✓ result{RESET} {DIM}{facts}{RESET}")
    }
}

/// The argument that says what a tool call does: the command, the file, the pattern…
fn main_argument(tool: &str, input: &Value) -> String {
    let key = match tool {
        "Bash" => "command",
        "Read" | "Write" | "Edit" | "MultiEdit" => "file_path",
        "NotebookEdit" | "NotebookRead" => "notebook_path",
        "Glob" | "Grep" => "pattern",
        "LS" => "path",
        "WebFetch" => "url",
        "WebSearch" => "query",
        "Task" => "description",
        "TodoWrite" => {
            let n = input["todos"].as_array().map_or(0, Vec::len);
            return format!("{n} todo{}", if n == 1 { "" } else { "s" });
        }
        _ => "",
    };
    if let Some(s) = input.get(key).and_then(Value::as_str) {
        return s.to_string();
    }
    // Unknown tools (MCP servers, newer versions): their first text argument.
    input
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_str))
        .unwrap_or("")
        .to_string()
}

fn blocks(content: &Value) -> &[Value] {
    content.as_array().map_or(&[], Vec::as_slice)
}

/// A tool result's content: a string, or text blocks.
fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Text from the model may hold control characters; on a terminal they would act, so they are
/// shown as symbols instead. Tabs stay.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => c,
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

/// `s` on one line (line breaks shown as `⏎`), at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat = printable(&s.trim().replace("\r\n", "\n").replace('\n', " ⏎ "));
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transcript without its color sequences (line endings kept).
    fn plain(bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes);
        let mut out = String::new();
        let mut rest = text.as_ref();
        while let Some(i) = rest.find("\x1b[") {
            out.push_str(&rest[..i]);
            let after = &rest[i..];
            rest = after.find('m').map_or("", |m| &after[m + 1..]);
        }
        out.push_str(rest);
        out
    }

    const INIT: &str = r#"{"type":"system","subtype":"init","session_id":"s-1","model":"claude-sonnet-4-5","tools":["Bash"]}"#;
    const TOOL: &str = r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls -la\nwc -l *","description":"List"}}]},"session_id":"s-1"}"#;
    const TOOL_ERR: &str = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"ls: cannot access 'x': No such file"}]},"session_id":"s-1"}"#;
    const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":2500,"num_turns":3,"result":"All done.","session_id":"s-1","total_cost_usd":0.0123,"usage":{"input_tokens":100,"output_tokens":40,"cache_creation_input_tokens":5,"cache_read_input_tokens":7}}"#;

    #[test]
    fn renders_a_transcript_and_parses_the_result() {
        let mut a = StreamJson::default();
        let stream = format!("{INIT}\r\n{TOOL}\r\n{TOOL_ERR}\r\n{RESULT}\r\n");
        let r = a.feed(stream.as_bytes());
        let text = plain(&r.transcript);
        assert_eq!(
            text,
            "● claude · claude-sonnet-4-5 · session s-1\r\n\
             Let me look.\r\n\
             → Bash ls -la ⏎ wc -l *\r\n\
             ✗ Bash failed: ls: cannot access 'x': No such file\r\n\
             ✓ result 3 turns · 2.5s · $0.0123\r\n\
             All done.\r\n"
        );
        assert_eq!(r.events.len(), 2);
        let StreamEvent::Result(result) = &r.events[1] else {
            panic!("{:?}", r.events);
        };
        assert_eq!(result.error(), None);
        assert_eq!(result.text.as_deref(), Some("All done."));
        assert_eq!(
            result.usage,
            Usage {
                cost_usd: 0.0123,
                input_tokens: 100,
                output_tokens: 40,
                num_turns: 3,
                session_id: Some("s-1".into()),
            }
        );
    }

    #[test]
    fn lines_split_anywhere_give_the_same_transcript() {
        let stream = format!("{INIT}\n{TOOL}\nnot json at all\n{RESULT}\n");
        let whole = StreamJson::default().feed(stream.as_bytes());
        let mut a = StreamJson::default();
        let mut pieces = Rendered::default();
        for chunk in stream.as_bytes().chunks(7) {
            let r = a.feed(chunk);
            pieces.transcript.extend(r.transcript);
            pieces.events.extend(r.events);
        }
        assert_eq!(pieces, whole);
        assert!(plain(&whole.transcript).contains("\r\nnot json at all\n"));
    }

    #[test]
    fn text_that_is_not_json_passes_at_once() {
        let mut a = StreamJson::default();
        // A prompt without a newline still reaches the pane.
        let r = a.feed(b"Enter API key: ");
        assert_eq!(r.transcript, b"Enter API key: ");
        let r = a.feed(b"x\r\n{\"type\":\"result\",\"subtype\":\"success\"}");
        assert_eq!(r.transcript, b"x\r\n");
        let r = a.finish();
        assert!(matches!(r.events[..], [StreamEvent::Result(_)]));
    }

    #[test]
    fn an_error_result_says_why() {
        let mut a = StreamJson::default();
        let line = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":10,"total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":2}}"#;
        let r = a.feed(format!("{line}\n").as_bytes());
        let StreamEvent::Result(result) = &r.events[0] else {
            panic!();
        };
        assert_eq!(
            result.error().as_deref(),
            Some("claude ended with an error (error_max_turns)")
        );
        assert_eq!(
            plain(&r.transcript),
            "✗ error_max_turns 10 turns · $0.5000\r\n"
        );
        let mut with_text = result.clone();
        with_text.text = Some("\nAPI Error: overloaded\nretry later".into());
        assert_eq!(
            with_text.error().as_deref(),
            Some("claude ended with an error (error_max_turns): API Error: overloaded")
        );
    }

    #[test]
    fn main_arguments_of_known_and_unknown_tools() {
        let j = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(
            main_argument("Edit", &j(r#"{"file_path":"src/a.rs","old_string":"x"}"#)),
            "src/a.rs"
        );
        assert_eq!(
            main_argument("Grep", &j(r#"{"pattern":"fn main"}"#)),
            "fn main"
        );
        assert_eq!(
            main_argument("TodoWrite", &j(r#"{"todos":[{},{}]}"#)),
            "2 todos"
        );
        assert_eq!(
            main_argument("mcp__x__y", &j(r#"{"n":1,"q":"hello"}"#)),
            "hello"
        );
        assert_eq!(
            one_line(&"x".repeat(200), 10),
            format!("{}…", "x".repeat(9))
        );
    }

    #[test]
    fn usage_totals_add_up() {
        let a = Usage {
            cost_usd: 0.25,
            input_tokens: 1,
            output_tokens: 2,
            num_turns: 3,
            session_id: Some("a".into()),
        };
        let b = Usage {
            session_id: Some("b".into()),
            ..a.clone()
        };
        let sum = Usage::total([&a, &b]).unwrap();
        assert_eq!(sum.cost_usd, 0.5);
        assert_eq!(sum.num_turns, 6);
        assert_eq!(sum.session_id.as_deref(), Some("b"));
        assert_eq!(Usage::total([]), None);
    }
}
