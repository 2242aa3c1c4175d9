//! Codex's `codex exec --json` events turned into a readable transcript, like Claude Code's
//! stream (see `stream_json`): bytes in, transcript bytes and parsed events out. Pure.
//!
//! One JSON object per line: `thread.started` (thread_id: the session to resume),
//! `turn.started`, `item.started` / `item.completed` (agent_message, command_execution,
//! file_change, reasoning, error, …), and `turn.completed` (usage) or `turn.failed` (error).

use serde_json::Value;

use super::stream_json::{
    one_line, printable, push_line, str_of, JsonAdapter, JsonLines, Rendered, StreamEvent,
    StreamResult, ARG_CHARS, BOLD, CYAN, DIM, GREEN, RED, RESET, YELLOW,
};
use crate::usage::Usage;

/// The adapter: partial lines between chunks, and the last agent message (the turn's output).
#[derive(Debug, Default)]
pub struct CodexJson {
    lines: JsonLines,
    last_text: Option<String>,
    session_id: Option<String>,
}

impl JsonAdapter for CodexJson {
    fn lines(&mut self) -> &mut JsonLines {
        &mut self.lines
    }
    fn object(&mut self, v: &Value, out: &mut Rendered) {
        self.show(v, out)
    }
}

impl CodexJson {
    fn show(&mut self, v: &Value, out: &mut Rendered) {
        let t = &mut out.transcript;
        match v["type"].as_str() {
            Some("thread.started") => {
                let session_id = str_of(&v["thread_id"]);
                push_line(t, &format!("{DIM}● codex · session {session_id}{RESET}"));
                self.session_id = Some(session_id.clone());
                out.events.push(StreamEvent::Init {
                    session_id,
                    model: String::new(),
                });
            }
            Some("item.started") if v["item"]["type"] == "command_execution" => {
                let command = one_line(&str_of(&v["item"]["command"]), ARG_CHARS);
                push_line(t, &format!("{CYAN}→ ${RESET} {command}"));
            }
            Some("item.completed") => self.item(&v["item"], t),
            Some("turn.completed") => {
                let u = &v["usage"];
                let count = |x: &Value| x.as_u64().unwrap_or(0);
                let usage = Usage {
                    input_tokens: count(&u["input_tokens"]),
                    output_tokens: count(&u["output_tokens"]),
                    cache_read_input_tokens: count(&u["cached_input_tokens"]),
                    cache_creation_input_tokens: count(&u["cache_write_input_tokens"]),
                    num_turns: 1,
                    session_id: self.session_id.clone(),
                    ..Usage::default()
                };
                push_line(
                    t,
                    &format!(
                        "{GREEN}{BOLD}✓ turn{RESET} {DIM}{} in / {} out tokens{RESET}",
                        usage.input_tokens, usage.output_tokens
                    ),
                );
                out.events.push(StreamEvent::Result(Box::new(StreamResult {
                    agent: "codex",
                    subtype: "success".into(),
                    is_error: false,
                    text: self.last_text.take(),
                    duration_ms: None,
                    api_error_status: None,
                    api_error_type: None,
                    terminal_reason: None,
                    usage,
                })));
            }
            Some("turn.failed") => {
                let message = str_of(&v["error"]["message"]);
                push_line(
                    t,
                    &format!("{RED}{BOLD}✗ turn failed:{RESET} {}", printable(&message)),
                );
                out.events.push(StreamEvent::Result(Box::new(StreamResult {
                    agent: "codex",
                    subtype: "turn_failed".into(),
                    is_error: true,
                    text: Some(message),
                    duration_ms: None,
                    api_error_status: None,
                    api_error_type: None,
                    terminal_reason: None,
                    usage: Usage {
                        num_turns: 1,
                        session_id: self.session_id.clone(),
                        ..Usage::default()
                    },
                })));
            }
            // Retries and stream problems: codex goes on or ends the turn with `turn.failed`.
            Some("error") => {
                let message = one_line(&str_of(&v["message"]), ARG_CHARS);
                push_line(t, &format!("{YELLOW}! {message}{RESET}"));
            }
            _ => {}
        }
    }

    fn item(&mut self, item: &Value, t: &mut Vec<u8>) {
        match item["type"].as_str() {
            Some("agent_message") => {
                let text = str_of(&item["text"]);
                for l in text.trim_end().lines() {
                    push_line(t, &printable(l));
                }
                self.last_text = Some(text);
            }
            Some("reasoning") => {
                let text = one_line(&str_of(&item["text"]), ARG_CHARS);
                push_line(t, &format!("{DIM}{text}{RESET}"));
            }
            Some("command_execution") => {
                let code = item["exit_code"].as_i64();
                if code.is_some_and(|c| c != 0) || item["status"] == "failed" {
                    let output = str_of(&item["aggregated_output"]);
                    let first = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    let code = code.map_or("failed".to_string(), |c| format!("exit {c}"));
                    push_line(
                        t,
                        &format!("{RED}✗ $ {code}:{RESET} {}", one_line(first, ARG_CHARS)),
                    );
                }
            }
            Some("file_change") => {
                for change in item["changes"].as_array().map_or(&[][..], Vec::as_slice) {
                    let kind = str_of(&change["kind"]);
                    let path = one_line(&str_of(&change["path"]), ARG_CHARS);
                    push_line(t, &format!("{CYAN}→ {kind}{RESET} {path}"));
                }
            }
            Some("mcp_tool_call") => {
                let tool = format!("{}.{}", str_of(&item["server"]), str_of(&item["tool"]));
                push_line(t, &format!("{CYAN}→ {tool}{RESET}"));
            }
            Some("web_search") => {
                let query = one_line(&str_of(&item["query"]), ARG_CHARS);
                push_line(t, &format!("{CYAN}→ web search{RESET} {query}"));
            }
            Some("error") => {
                let message = one_line(&str_of(&item["message"]), ARG_CHARS);
                push_line(t, &format!("{YELLOW}! {message}{RESET}"));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as codex-cli 0.171.0 printed them against the tests' stand-in API.
    const STREAM: &str = r#"{"type":"thread.started","thread_id":"01a23f66-bb03"}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > out.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'echo hello > out.txt'","aggregated_output":"","exit_code":0,"status":"completed"}}
{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"cat missing","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"cat missing","aggregated_output":"cat: missing: No such file\n","exit_code":1,"status":"failed"}}
{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"I wrote out.txt."}}
{"type":"turn.completed","usage":{"input_tokens":22,"cached_input_tokens":5,"cache_write_input_tokens":0,"output_tokens":14,"reasoning_output_tokens":0}}
"#;

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

    #[test]
    fn a_turn_becomes_a_transcript_a_session_and_usage() {
        let mut a = CodexJson::default();
        let mut r = Rendered::default();
        for chunk in STREAM.as_bytes().chunks(13) {
            let part = a.feed(chunk);
            r.transcript.extend(part.transcript);
            r.events.extend(part.events);
        }
        assert_eq!(
            plain(&r.transcript),
            "● codex · session 01a23f66-bb03\r\n\
             → $ /bin/bash -lc 'echo hello > out.txt'\r\n\
             → $ cat missing\r\n\
             ✗ $ exit 1: cat: missing: No such file\r\n\
             I wrote out.txt.\r\n\
             ✓ turn 22 in / 14 out tokens\r\n"
        );
        let [StreamEvent::Init { session_id, .. }, StreamEvent::Result(result)] = &r.events[..]
        else {
            panic!("{:?}", r.events);
        };
        assert_eq!(session_id, "01a23f66-bb03");
        assert_eq!(result.error(), None);
        assert_eq!(result.text.as_deref(), Some("I wrote out.txt."));
        assert_eq!(result.usage.input_tokens, 22);
        assert_eq!(result.usage.cache_read_input_tokens, 5);
        assert_eq!(result.usage.session_id.as_deref(), Some("01a23f66-bb03"));
    }

    #[test]
    fn a_failed_turn_is_an_error_result() {
        let line =
            r#"{"type":"turn.failed","error":{"message":"stream disconnected before completion"}}"#;
        let r = CodexJson::default().feed(format!("{line}\n").as_bytes());
        let StreamEvent::Result(result) = &r.events[0] else {
            panic!("{:?}", r.events);
        };
        assert_eq!(
            result.error().as_deref(),
            Some("codex ended with an error (turn_failed): stream disconnected before completion")
        );
    }
}
