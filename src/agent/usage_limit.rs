//! Claude Code's usage limit (a subscription's 5-hour, weekly or per-model limit): told apart
//! from other API errors, and when it resets. Pure but for the machine's UTC offset.
//!
//! Claude Code 2.1 says it three ways in its stream: a `rate_limit_event` whose
//! `rate_limit_info` is `rejected` with `resetsAt` (unix seconds), an assistant message and a
//! result with `api_error: "usage_limit_reached"` (the message's `api_error_params` repeat the
//! info), and the result text `You've hit your 5-hour limit · resets 7:20am (UTC)`. Older
//! versions wrote `Claude AI usage limit reached|1766502000` or `Claude usage limit reached. Your
//! limit will reset at 9am (America/Chicago).`; `5-hour limit reached ∙ resets 2pm` is read too.

use serde_json::Value;

pub use crate::usage::UsageLimit;

/// The reset of a rejected limit from a `rate_limit_event` line (None: not rejected).
pub fn rejected_reset(event: &Value) -> Option<u64> {
    let info = &event["rate_limit_info"];
    (info["status"] == "rejected").then(|| info["resetsAt"].as_u64())?
}

/// The usage limit a `result` line reports, if it is one: `event_reset` is the reset of the
/// last rejected `rate_limit_event` before it, `now` and `offset` (seconds east of UTC) place
/// a reset given only as a clock time.
pub fn of_result(
    result: &Value,
    event_reset: Option<u64>,
    now: u64,
    offset: i64,
) -> Option<UsageLimit> {
    if result["is_error"] != true {
        return None;
    }
    let text = result["result"].as_str().unwrap_or_default();
    if result["api_error"] != "usage_limit_reached" && !says_limit(text) {
        return None;
    }
    let resets_at = result["api_error_params"]["rate_limit_info"]["resetsAt"]
        .as_u64()
        .or(event_reset)
        .or_else(|| parse_reset(text, now, offset));
    let message = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("usage limit reached")
        .trim()
        .to_string();
    Some(UsageLimit { message, resets_at })
}

/// Whether an error text is a usage limit's (the wordings of Claude Code versions).
fn says_limit(text: &str) -> bool {
    let lower = text.to_lowercase();
    let resets = lower.contains("resets") || lower.contains("reset at");
    lower.contains("usage limit reached")
        || (lower.contains("limit reached") && resets)
        || (lower.starts_with("you've hit your") && lower.contains("limit") && resets)
        || lower.starts_with("you're out of extra usage")
}

/// When a limit's text says it resets: `…limit reached|1766502000` (unix seconds, or
/// milliseconds), or a clock time after `resets` / `reset at` (`2pm`, `7:20am`, `14:00`),
/// taken as the next such time after `now`: in UTC when the text says `(UTC)`, else at the
/// machine's `offset` (Claude Code words the time in the zone of the machine it runs on).
pub fn parse_reset(text: &str, now: u64, offset: i64) -> Option<u64> {
    if let Some((_, after)) = text.split_once('|') {
        let digits: String = after
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<u64>() {
            return Some(if n > 100_000_000_000 { n / 1000 } else { n });
        }
    }
    let lower = text.to_lowercase();
    let at = ["resets at ", "reset at ", "resets "]
        .iter()
        .find_map(|word| lower.find(word).map(|i| i + word.len()))?;
    let rest = &lower[at..];
    let seconds = clock_seconds(rest)?;
    let offset = if rest.contains("(utc)") || rest.contains("(gmt)") {
        0
    } else {
        offset
    };
    let local_now = now as i64 + offset;
    let midnight = local_now - local_now.rem_euclid(86_400);
    let mut at = midnight + seconds as i64 - offset;
    if at <= now as i64 {
        at += 86_400;
    }
    u64::try_from(at).ok()
}

/// Seconds after midnight of a clock time at the start of `s`: `2pm`, `7:20am`, `14:00`.
fn clock_seconds(s: &str) -> Option<u64> {
    let digits = |s: &str| -> (String, usize) {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        let n = d.len();
        (d, n)
    };
    let (hour, n) = digits(s);
    let mut hour: u64 = hour.parse().ok()?;
    let mut rest = &s[n..];
    let mut minute = 0;
    if let Some(after) = rest.strip_prefix(':') {
        let (m, n) = digits(after);
        if n != 2 {
            return None;
        }
        minute = m.parse().ok()?;
        rest = &after[n..];
    }
    let rest = rest.trim_start();
    if let Some(pm) = ["am", "pm"].iter().position(|w| rest.starts_with(w)) {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm == 1 { 12 } else { 0 };
    } else if n == 0 || rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    (hour < 24 && minute < 60).then_some(hour * 3600 + minute * 60)
}

/// The machine's offset from UTC at unix time `at`, in seconds east (its `TZ` or
/// /etc/localtime), 0 when it cannot be read.
pub fn local_offset(at: u64) -> i64 {
    let Ok(t) = libc::time_t::try_from(at) else {
        return 0;
    };
    // SAFETY: localtime_r only writes the `tm` it is given.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff
    } else {
        0
    }
}

/// The time now, unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `14:00`: unix time `at` as a local clock time.
pub fn local_clock(at: u64) -> String {
    let local = at as i64 + local_offset(at);
    let minutes = local.rem_euclid(86_400) / 60;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-12-04 07:19:35 UTC.
    const NOW: u64 = 1_796_368_775;

    #[test]
    fn reset_times_in_each_wording() {
        let at = |h: u64, m: u64| 1_796_342_400 + h * 3600 + m * 60;
        // Later today, or tomorrow once the time has passed.
        assert_eq!(
            parse_reset("You've hit your 5-hour limit · resets 7:20am (UTC)", NOW, 0),
            Some(at(7, 20))
        );
        assert_eq!(
            parse_reset("5-hour limit reached ∙ resets 2pm", NOW, 0),
            Some(at(14, 0))
        );
        assert_eq!(
            parse_reset("Limit reached · resets 7am · /upgrade", NOW, 0),
            Some(at(24 + 7, 0))
        );
        assert_eq!(parse_reset("resets 12am", NOW, 0), Some(at(24, 0)));
        assert_eq!(parse_reset("resets 12:30pm", NOW, 0), Some(at(12, 30)));
        assert_eq!(parse_reset("resets 16:45", NOW, 0), Some(at(16, 45)));
        // In the machine's zone (here UTC+2): 2pm there is 12:00 UTC; but not when it says UTC.
        assert_eq!(
            parse_reset("resets 2pm (Europe/Berlin)", NOW, 7200),
            Some(at(12, 0))
        );
        assert_eq!(parse_reset("resets 2pm (UTC)", NOW, 7200), Some(at(14, 0)));
        assert_eq!(
            parse_reset(
                "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
                NOW,
                -6 * 3600
            ),
            Some(at(15, 0))
        );
        assert_eq!(
            parse_reset("Claude AI usage limit reached|1766502000", NOW, 0),
            Some(1_766_502_000)
        );
        assert_eq!(
            parse_reset("limit reached|1766502000123", NOW, 0),
            Some(1_766_502_000)
        );
        for none in [
            "resets soon",
            "resets 25pm",
            "resets 7:2am",
            "resets 13pm",
            "no limit",
        ] {
            assert_eq!(parse_reset(none, NOW, 0), None, "{none}");
        }
    }

    #[test]
    fn a_usage_limit_result_is_told_from_other_errors() {
        // As Claude Code 2.1.332 wrote it against the stand-in API.
        let result = json!({"type": "result", "subtype": "success", "is_error": true,
            "api_error_status": 429, "api_error_type": "rate_limit_error",
            "api_error": "usage_limit_reached",
            "result": "You've hit your 5-hour limit · resets 7:20am (UTC)"});
        let event = json!({"type": "rate_limit_event", "rate_limit_info": {"status": "rejected",
            "resetsAt": 1_796_368_805u64, "rateLimitType": "five_hour"}});
        let reset = rejected_reset(&event);
        assert_eq!(reset, Some(1_796_368_805));
        let limit = of_result(&result, reset, NOW, 0).unwrap();
        assert_eq!(limit.resets_at, Some(1_796_368_805));
        assert_eq!(
            limit.message,
            "You've hit your 5-hour limit · resets 7:20am (UTC)"
        );
        // Without the event, the text says when.
        let limit = of_result(&result, None, NOW, 0).unwrap();
        assert_eq!(limit.resets_at, Some(1_796_342_400 + 7 * 3600 + 20 * 60));
        // The older wording alone.
        let old = json!({"is_error": true, "result": "Claude AI usage limit reached|1766502000"});
        assert_eq!(
            of_result(&old, None, NOW, 0).unwrap().resets_at,
            Some(1_766_502_000)
        );
        // An allowed event, another 429, or a success are no limit.
        assert_eq!(
            rejected_reset(&json!({"rate_limit_info": {"status": "allowed", "resetsAt": 5}})),
            None
        );
        let rate = json!({"is_error": true, "api_error_status": 429,
            "result": "API Error: Request rejected (429) · Rate limited"});
        assert_eq!(of_result(&rate, reset, NOW, 0), None);
        let fine = json!({"is_error": false, "result": "usage limit reached|1766502000"});
        assert_eq!(of_result(&fine, None, NOW, 0), None);
    }

    #[test]
    fn clock_times_are_local() {
        let offset = local_offset(NOW);
        let expected = (NOW as i64 + offset).rem_euclid(86_400) / 60;
        assert_eq!(
            local_clock(NOW),
            format!("{:02}:{:02}", expected / 60, expected % 60)
        );
    }
}
