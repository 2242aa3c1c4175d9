//! Claude Code's `--output-format stream-json` turned into a readable transcript: bytes of the
//! stream in, transcript bytes for the pane and parsed events out. Pure, so it is tested
//! without a terminal; the raw stream is logged elsewhere.
//!
//! The stream is one JSON object per line: `system`/`init` (session_id, model), `assistant`
//! messages (text and tool_use blocks), `user` messages (tool results), and a final `result`
//! (subtype, is_error, result, num_turns, duration_ms, total_cost_usd, usage). Lines that are not
//! JSON are shown as they are.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::usage_limit::{self, UsageLimit};
use crate::usage::{dollars, ModelUsage, Usage};

/// A `result` object of a stream (Claude Code may emit more than one: a background task that
/// finishes after the first starts another turn).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// The agent's program, for messages: `claude`, `codex`.
    pub agent: &'static str,
    pub subtype: String,
    pub is_error: bool,
    /// The final text (absent in some error results).
    pub text: Option<String>,
    pub duration_ms: Option<u64>,
    /// The HTTP status of the API error that ended the turn (`529`).
    pub api_error_status: Option<u64>,
    /// Its kind (`overloaded_error`).
    pub api_error_type: Option<String>,
    /// Why the turn ended (`completed`, `api_error`, `max_turns`…).
    pub terminal_reason: Option<String>,
    pub usage: Usage,
}

impl StreamResult {
    /// Why the attempt failed, when the result is an error: worded from the API error or the
    /// reason the turn ended (a `success` subtype can carry an error), with the text's first line.
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
        let why = match (self.api_error_status, &self.api_error_type) {
            (Some(status), Some(kind)) => format!("an API error ({status} {kind})"),
            (Some(status), None) => format!("an API error ({status})"),
            _ if self.subtype != "success" => format!("an error ({})", self.subtype),
            _ => match self.terminal_reason.as_deref() {
                Some(reason) if reason != "completed" => format!("an error ({reason})"),
                _ => "an error".to_string(),
            },
        };
        Some(format!("{} ended with {why}{detail}", self.agent))
    }
}

/// Facts parsed from the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Init {
        session_id: String,
        model: String,
    },
    Result(Box<StreamResult>),
    /// The result before it was the account's usage limit.
    UsageLimit(UsageLimit),
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
pub(crate) const ARG_CHARS: usize = 160;

pub(crate) const DIM: &str = "\x1b[2m";
pub(crate) const BOLD: &str = "\x1b[1m";
pub(crate) const CYAN: &str = "\x1b[36m";
pub(crate) const GREEN: &str = "\x1b[32m";
pub(crate) const RED: &str = "\x1b[31m";
pub(crate) const YELLOW: &str = "\x1b[33m";
pub(crate) const RESET: &str = "\x1b[0m";

/// Splits a stream into lines of JSON objects, holding a partial line between chunks. Lines
/// that do not start with `{` go to the pane as they come (a prompt without a newline too).
#[derive(Debug, Default)]
pub struct JsonLines {
    line: Vec<u8>,
    /// The current line does not start with `{`: its bytes go to the pane as they come.
    passthrough: bool,
}

impl JsonLines {
    /// Feeds `bytes`; each complete JSON object goes to `object`, other text to the transcript.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut Rendered,
        object: &mut dyn FnMut(&Value, &mut Rendered),
    ) {
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
                line_done(&line, out, object);
            } else if self.line.len() > MAX_LINE {
                out.transcript.append(&mut self.line);
                self.passthrough = true;
            }
        }
    }

    /// The stream ended: a last line without a newline is read too.
    pub fn finish(&mut self, out: &mut Rendered, object: &mut dyn FnMut(&Value, &mut Rendered)) {
        self.passthrough = false;
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            line_done(&line, out, object);
        }
    }
}

fn line_done(line: &[u8], out: &mut Rendered, object: &mut dyn FnMut(&Value, &mut Rendered)) {
    let text = String::from_utf8_lossy(line);
    let trimmed = text.trim_end_matches(['\r', '\n']);
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v @ Value::Object(_)) => object(&v, out),
        _ => {
            out.transcript.extend_from_slice(trimmed.as_bytes());
            out.transcript.extend_from_slice(b"\r\n");
        }
    }
}

/// An agent's JSON-lines output turned into a transcript: the adapter keeps its partial line in
/// a [`JsonLines`] and says what one object shows; feeding and finishing are the same for all.
pub trait JsonAdapter {
    fn lines(&mut self) -> &mut JsonLines;
    fn object(&mut self, v: &Value, out: &mut Rendered);

    fn feed(&mut self, bytes: &[u8]) -> Rendered {
        let mut out = Rendered::default();
        let mut lines = std::mem::take(self.lines());
        lines.feed(bytes, &mut out, &mut |v, out| self.object(v, out));
        *self.lines() = lines;
        out
    }

    /// The stream ended: a last line without a newline is read too.
    fn finish(&mut self) -> Rendered {
        let mut out = Rendered::default();
        let mut lines = std::mem::take(self.lines());
        lines.finish(&mut out, &mut |v, out| self.object(v, out));
        *self.lines() = lines;
        out
    }
}

/// The adapter for Claude Code: the names of tool calls, so a tool error can say which tool
/// failed, and the last text, so the result does not repeat it.
#[derive(Debug, Default)]
pub struct StreamJson {
    lines: JsonLines,
    tools: HashMap<String, String>,
    /// Tool calls shown as denied: their failed results are not shown again.
    denied: HashSet<String>,
    last_text: Option<String>,
    /// When the limit a rejected `rate_limit_event` named resets (unix seconds).
    limit_reset: Option<u64>,
}

impl JsonAdapter for StreamJson {
    fn lines(&mut self) -> &mut JsonLines {
        &mut self.lines
    }
    fn object(&mut self, v: &Value, out: &mut Rendered) {
        self.show(v, out)
    }
}

impl StreamJson {
    fn show(&mut self, v: &Value, out: &mut Rendered) {
        let t = &mut out.transcript;
        match (v["type"].as_str(), v["subtype"].as_str()) {
            (Some("system"), Some("init")) => {
                let session_id = str_of(&v["session_id"]);
                let model = str_of(&v["model"]);
                push_line(
                    t,
                    &format!("{DIM}● claude · {model} · session {session_id}{RESET}"),
                );
                out.events.push(StreamEvent::Init { session_id, model });
            }
            (Some("system"), Some("api_retry")) => push_line(t, &retry_line(v)),
            (Some("rate_limit_event"), _) => {
                self.limit_reset = usage_limit::rejected_reset(v).or(self.limit_reset);
            }
            (Some("system"), Some("permission_denied")) => {
                let tool = str_of(&v["tool_name"]);
                self.denied.insert(str_of(&v["tool_use_id"]));
                let why = one_line(&str_of(&v["message"]), ARG_CHARS);
                push_line(t, &format!("{YELLOW}⊘ {tool} denied:{RESET} {why}"));
            }
            (Some("system"), Some("task_notification")) => {
                let summary = one_line(&str_of(&v["summary"]), ARG_CHARS);
                push_line(t, &format!("{DIM}◦ {summary}{RESET}"));
            }
            (Some("assistant"), _) => {
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
            (Some("user"), _) => {
                for block in blocks(&v["message"]["content"]) {
                    if block["type"] != "tool_result" || block["is_error"] != true {
                        continue;
                    }
                    let id = str_of(&block["tool_use_id"]);
                    if self.denied.contains(&id) {
                        // Already shown as denied.
                        continue;
                    }
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
            (Some("result"), _) => {
                let result = parse_result(v);
                push_line(t, &result_line(&result));
                if let Some(text) = &result.text {
                    // The result repeats the last assistant text (an API error's message too).
                    let repeated = self.last_text.as_deref().map(str::trim) == Some(text.trim());
                    if !repeated {
                        for l in text.trim_end().lines() {
                            push_line(t, &printable(l));
                        }
                    }
                }
                let denials = &result.usage.permission_denials;
                if !denials.is_empty() {
                    let n = denials.len();
                    let list = one_line(&denials.join("; "), ARG_CHARS);
                    let s = if n == 1 { "" } else { "s" };
                    push_line(
                        t,
                        &format!("{YELLOW}⊘ {n} permission denial{s}:{RESET} {list}"),
                    );
                }
                self.last_text = None;
                let now = usage_limit::unix_now();
                let offset = usage_limit::local_offset(now);
                if let Some(limit) = usage_limit::of_result(v, self.limit_reset, now, offset) {
                    out.events.push(StreamEvent::UsageLimit(limit));
                }
                out.events.push(StreamEvent::Result(Box::new(result)));
            }
            // Other kinds (stream events, hooks, task progress…) carry nothing to show.
            _ => {}
        }
    }
}

/// `↻ API 529, retry 1/10 in 0.6s`: Claude Code retries on its own, for minutes at worst.
fn retry_line(v: &Value) -> String {
    let what = match (v["error_status"].as_u64(), v["error"].as_str()) {
        (Some(status), _) => format!("API {status}"),
        (None, Some(error)) => format!("API error ({error})"),
        (None, None) => "API error".to_string(),
    };
    let attempt = v["attempt"].as_u64().unwrap_or(0);
    let max = v["max_retries"].as_u64().unwrap_or(0);
    let delay = v["retry_delay_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
    format!("{YELLOW}↻ {what}, retry {attempt}/{max} in {delay:.1}s{RESET}")
}

fn parse_result(v: &Value) -> StreamResult {
    let count = |x: &Value| x.as_u64().unwrap_or(0);
    let models = v["modelUsage"]
        .as_object()
        .map(|models| {
            models
                .iter()
                .map(|(name, m)| {
                    let usage = ModelUsage {
                        cost_usd: m["costUSD"].as_f64().unwrap_or(0.0),
                        input_tokens: count(&m["inputTokens"]),
                        output_tokens: count(&m["outputTokens"]),
                        cache_read_input_tokens: count(&m["cacheReadInputTokens"]),
                        cache_creation_input_tokens: count(&m["cacheCreationInputTokens"]),
                    };
                    (name.clone(), usage)
                })
                .collect()
        })
        .unwrap_or_default();
    let permission_denials = v["permission_denials"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|d| {
            let tool = str_of(&d["tool_name"]);
            let arg = one_line(&main_argument(&tool, &d["tool_input"]), ARG_CHARS);
            format!("{tool}: {arg}")
        })
        .collect();
    StreamResult {
        agent: "claude",
        subtype: v["subtype"].as_str().unwrap_or("unknown").to_string(),
        is_error: v["is_error"].as_bool().unwrap_or(false),
        text: v["result"].as_str().map(str::to_string),
        duration_ms: v["duration_ms"].as_u64(),
        api_error_status: v["api_error_status"].as_u64(),
        api_error_type: v["api_error_type"].as_str().map(str::to_string),
        terminal_reason: v["terminal_reason"].as_str().map(str::to_string),
        usage: Usage {
            cost_usd: v["total_cost_usd"].as_f64().unwrap_or(0.0),
            input_tokens: count(&v["usage"]["input_tokens"]),
            output_tokens: count(&v["usage"]["output_tokens"]),
            cache_read_input_tokens: count(&v["usage"]["cache_read_input_tokens"]),
            cache_creation_input_tokens: count(&v["usage"]["cache_creation_input_tokens"]),
            num_turns: count(&v["num_turns"]),
            session_id: v["session_id"].as_str().map(str::to_string),
            models,
            permission_denials,
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
    match (r.is_error, r.api_error_status) {
        (true, Some(status)) => {
            format!("{RED}{BOLD}✗ API error {status}{RESET} {DIM}{facts}{RESET}")
        }
        (true, None) => format!("{RED}{BOLD}✗ {}{RESET} {DIM}{facts}{RESET}", r.subtype),
        (false, _) => format!("{GREEN}{BOLD}✓ result{RESET} {DIM}{facts}{RESET}"),
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

pub(crate) fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

pub(crate) fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Text from the model may hold control characters; on a terminal they would act, so they are
/// shown as symbols instead. Tabs stay.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => c,
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

/// `s` on one line (line breaks shown as `⏎`), at most `max` characters.
pub(crate) fn one_line(s: &str, max: usize) -> String {
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
                cache_read_input_tokens: 7,
                cache_creation_input_tokens: 5,
                num_turns: 3,
                session_id: Some("s-1".into()),
                ..Usage::default()
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
        let mut reason_only = result.clone();
        reason_only.subtype = "success".into();
        reason_only.terminal_reason = Some("max_turns".into());
        assert_eq!(
            reason_only.error().as_deref(),
            Some("claude ended with an error (max_turns)")
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

    /// Lines as Claude Code 2.1.332 printed them for a 529 (shortened to the fields read).
    const RETRY: &str = r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":624,"error_status":529,"error":"overloaded","session_id":"s-2"}"#;
    const API_ERROR_TEXT: &str = r#"{"type":"assistant","message":{"model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"API Error: 529 Overloaded. This is a server-side issue, usually temporary."}]},"session_id":"s-2"}"#;
    const API_ERROR: &str = r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":529,"api_error_type":"overloaded_error","terminal_reason":"api_error","num_turns":1,"duration_ms":1805,"total_cost_usd":0,"result":"API Error: 529 Overloaded. This is a server-side issue, usually temporary.","session_id":"s-2","usage":{"input_tokens":0,"output_tokens":0}}"#;

    #[test]
    fn an_api_error_is_worded_from_its_status_and_shown_once_after_its_retries() {
        let mut a = StreamJson::default();
        let stream = format!("{RETRY}\n{API_ERROR_TEXT}\n{API_ERROR}\n");
        let r = a.feed(stream.as_bytes());
        assert_eq!(
            plain(&r.transcript),
            "↻ API 529, retry 1/10 in 0.6s\r\n\
             API Error: 529 Overloaded. This is a server-side issue, usually temporary.\r\n\
             ✗ API error 529 1 turn · 1.8s · $0.0000\r\n"
        );
        let StreamEvent::Result(result) = &r.events[0] else {
            panic!("{:?}", r.events);
        };
        assert_eq!(
            result.error().as_deref(),
            Some(
                "claude ended with an API error (529 overloaded_error): API Error: 529 \
                 Overloaded. This is a server-side issue, usually temporary."
            )
        );
        let retry = r#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":1153,"error_status":null,"error":"unknown"}"#;
        let r = a.feed(format!("{retry}\n").as_bytes());
        assert_eq!(
            plain(&r.transcript),
            "↻ API error (unknown), retry 2/10 in 1.2s\r\n"
        );
    }

    #[test]
    fn denied_tool_calls_are_shown_once_and_counted_in_the_result() {
        let tool = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"echo hello > out.txt"}}]}}"#;
        let denied = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","tool_use_id":"toolu_1","message":"Output redirection to 'out.txt' needs approval."}"#;
        let refused = r#"{"type":"user","message":{"content":[{"type":"tool_result","content":"Output redirection to 'out.txt' needs approval.","is_error":true,"tool_use_id":"toolu_1"}]}}"#;
        let result = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"I could not write it.","total_cost_usd":0.001,"usage":{"input_tokens":22,"output_tokens":14},"permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_1","tool_input":{"command":"echo hello > out.txt"}}],"terminal_reason":"completed"}"#;
        let mut a = StreamJson::default();
        let r = a.feed(format!("{tool}\n{denied}\n{refused}\n{result}\n").as_bytes());
        assert_eq!(
            plain(&r.transcript),
            "→ Bash echo hello > out.txt\r\n\
             ⊘ Bash denied: Output redirection to 'out.txt' needs approval.\r\n\
             ✓ result 2 turns · $0.0010\r\n\
             I could not write it.\r\n\
             ⊘ 1 permission denial: Bash: echo hello > out.txt\r\n"
        );
        let StreamEvent::Result(result) = &r.events[0] else {
            panic!("{:?}", r.events);
        };
        assert_eq!(
            result.usage.permission_denials,
            ["Bash: echo hello > out.txt"]
        );
    }

    #[test]
    fn cache_tokens_and_per_model_usage_are_read() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.5,"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":9000,"cache_creation_input_tokens":800},"modelUsage":{"claude-opus-5-5":{"inputTokens":3,"outputTokens":4,"cacheReadInputTokens":9000,"cacheCreationInputTokens":800,"costUSD":0.4},"claude-haiku-4-5":{"inputTokens":1,"outputTokens":1,"costUSD":0.1}}}"#;
        let r = StreamJson::default().feed(format!("{line}\n").as_bytes());
        let StreamEvent::Result(result) = &r.events[0] else {
            panic!("{:?}", r.events);
        };
        assert_eq!(result.usage.cache_read_input_tokens, 9000);
        assert_eq!(result.usage.cache_creation_input_tokens, 800);
        assert_eq!(result.usage.models.len(), 2);
        assert_eq!(
            result.usage.models["claude-opus-5-5"],
            ModelUsage {
                cost_usd: 0.4,
                input_tokens: 3,
                output_tokens: 4,
                cache_read_input_tokens: 9000,
                cache_creation_input_tokens: 800,
            }
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
}
