//! Whether a hosted agent has what it needs to reach its model: an API key in its environment
//! or a login under its home. aider and gemini wait for a browser login when they have neither
//! (aider on a callback server at localhost:8484, for minutes), so their attempts check first and
//! fail at once; `grove doctor` checks every preset.

use std::path::Path;

/// What one program accepts as credentials.
struct Accepts {
    program: &'static str,
    /// Any of these variables set (not empty) will do.
    env: &'static [&'static str],
    /// Any of these files under the home folder will do.
    home_files: &'static [&'static str],
    /// Any of these in the agent's arguments (as an argument or its `--flag=` prefix) will do.
    args: &'static [&'static str],
    /// The one thing to do about it.
    fix: &'static str,
}

const ACCEPTS: &[Accepts] = &[
    Accepts {
        program: "claude",
        env: &[
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
        ],
        home_files: &[".claude/.credentials.json"],
        args: &[],
        fix: "run `claude` once and log in (/login), or set ANTHROPIC_API_KEY",
    },
    Accepts {
        program: "codex",
        env: &["OPENAI_API_KEY", "CODEX_API_KEY"],
        home_files: &[".codex/auth.json"],
        args: &[],
        fix: "run `codex login`, or set OPENAI_API_KEY",
    },
    Accepts {
        program: "gemini",
        env: &[
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_GENAI_USE_GCA",
        ],
        home_files: &[".gemini/oauth_creds.json"],
        args: &[],
        fix: "set GEMINI_API_KEY, or run `gemini` once and sign in",
    },
    Accepts {
        program: "aider",
        env: &[
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "DEEPSEEK_API_KEY",
            "OPENROUTER_API_KEY",
            "GROQ_API_KEY",
            "MISTRAL_API_KEY",
            "XAI_API_KEY",
            "COHERE_API_KEY",
            "OLLAMA_API_BASE",
            "AIDER_API_KEY",
            "AIDER_OPENAI_API_KEY",
            "AIDER_ANTHROPIC_API_KEY",
        ],
        home_files: &[".aider.conf.yml", ".env"],
        args: &["--api-key", "--openai-api-key", "--anthropic-api-key"],
        fix: "set an API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) or pass --api-key PROVIDER=KEY",
    },
];

/// Programs that wait for a login instead of failing when they have no credentials.
const WAITS_FOR_LOGIN: &[&str] = &["aider", "gemini"];

/// What an agent would start with: its program, arguments and environment.
pub struct Agent<'a> {
    pub argv: &'a [String],
    /// Its environment: grove's own, the agent's and the task's over the inherited one.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<&'a Path>,
}

impl Agent<'_> {
    fn program(&self) -> &str {
        self.argv
            .first()
            .map(Path::new)
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("")
    }
}

/// Whether `agent` has credentials: `Ok(how)` (the variable or file found), `Err(what to do)`
/// when it has none; `Ok("")` for programs grove knows nothing about.
pub fn check(agent: &Agent<'_>) -> Result<String, String> {
    let program = agent.program();
    let Some(accepts) = ACCEPTS.iter().find(|a| a.program == program) else {
        return Ok(String::new());
    };
    if let Some(var) = accepts
        .env
        .iter()
        .find(|v| (agent.env)(v).is_some_and(|x| !x.is_empty()))
    {
        return Ok(format!("${var}"));
    }
    let home_file = agent
        .home
        .and_then(|home| accepts.home_files.iter().find(|f| home.join(f).is_file()));
    if let Some(file) = home_file {
        return Ok(format!("~/{file}"));
    }
    let in_args = agent.argv.iter().find(|a| {
        accepts
            .args
            .iter()
            .any(|flag| *a == flag || a.starts_with(&format!("{flag}=")))
    });
    if let Some(arg) = in_args {
        return Ok(arg.split('=').next().unwrap_or(arg).to_string());
    }
    Err(format!(
        "{program} has no credentials: {}. Without them it waits for a login",
        accepts.fix
    ))
}

/// Why `agent` must not start (it would sit waiting for a browser login), if so.
pub fn missing_before_start(agent: &Agent<'_>) -> Option<String> {
    if !WAITS_FOR_LOGIN.contains(&agent.program()) {
        return None;
    }
    check(agent).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_key_a_login_file_or_a_key_argument_is_enough() {
        let home = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let key = |v: &str| (v == "ANTHROPIC_API_KEY").then(|| "sk".to_string());
        let aider = argv(&["aider", "--message=x"]);
        let agent = |argv, env| Agent {
            argv,
            env,
            home: Some(home.path()),
        };
        let err = check(&agent(&aider, &none)).unwrap_err();
        assert!(
            err.starts_with("aider has no credentials: set an API key"),
            "{err}"
        );
        assert_eq!(missing_before_start(&agent(&aider, &none)), Some(err));
        assert_eq!(check(&agent(&aider, &key)).unwrap(), "$ANTHROPIC_API_KEY");
        let with_arg = argv(&["aider", "--api-key=openai=sk"]);
        assert_eq!(check(&agent(&with_arg, &none)).unwrap(), "--api-key");
        std::fs::create_dir_all(home.path().join(".gemini")).unwrap();
        std::fs::write(home.path().join(".gemini/oauth_creds.json"), "{}").unwrap();
        let gemini = argv(&["/usr/bin/gemini", "--prompt=x"]);
        assert_eq!(
            check(&agent(&gemini, &none)).unwrap(),
            "~/.gemini/oauth_creds.json"
        );
        // claude and codex fail by themselves when they have no key: only checked by doctor.
        let claude = argv(&["claude", "-p", "x"]);
        assert!(check(&agent(&claude, &none)).is_err());
        assert_eq!(missing_before_start(&agent(&claude, &none)), None);
        assert_eq!(check(&agent(&argv(&["sh"]), &none)).unwrap(), "");
    }
}
