//! Contains panics of the terminal model: vt100 panics on some output (an agent's, untrusted),
//! and a panic must cost that pane its state, never a reader thread, the run or the dashboard.
//! A contained call catches the unwind, and the process-wide panic hook stays silent for it.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// True while this thread is inside a contained call.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// What the hook recorded of the last contained panic on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// A panic that a contained call caught.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the terminal model panicked: {message}")]
pub struct Contained {
    /// The panic's message and where it was raised.
    pub message: String,
}

/// Runs `f`, catching a panic in it. Call it with no lock held that `f` could leave half
/// changed: the caller's lock guard lives outside the closure, so it is not poisoned, and the
/// caller repairs what `f` was changing.
pub fn contained<R>(f: impl FnOnce() -> R) -> Result<R, Contained> {
    install_hook();
    let was = CATCHING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    result.map_err(|payload| {
        let recorded = CAUGHT.with(|c| c.borrow_mut().take());
        Contained {
            message: recorded.unwrap_or_else(|| payload_message(payload.as_ref())),
        }
    })
}

/// True while the current thread runs a contained call: a panic hook that tears something down
/// (the dashboard's restores the terminal) leaves it alone then, since the panic is caught.
pub fn is_containing() -> bool {
    CATCHING.with(Cell::get)
}

/// Installs (once) the hook that records a contained panic instead of printing it; any other
/// panic goes to the hook that was there before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if is_containing() {
                CAUGHT.with(|c| *c.borrow_mut() = Some(hook_message(info)));
            } else {
                previous(info);
            }
        }));
    });
}

fn hook_message(info: &PanicHookInfo<'_>) -> String {
    let message = payload_message(info.payload());
    match info.location() {
        Some(at) => format!("{message} at {}:{}:{}", at.file(), at.line(), at.column()),
        None => message,
    }
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_is_caught_with_its_message_and_place() {
        let caught = contained(|| -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert!(caught.message.starts_with("boom 7 at "), "{caught}");
        assert!(caught.message.contains("guard.rs"), "{caught}");
        assert!(!is_containing());
        assert_eq!(contained(|| 5), Ok(5));
    }

    #[test]
    fn nesting_keeps_the_outer_call_containing() {
        let outer = contained(|| {
            let inner = contained(|| panic!("inner"));
            assert!(is_containing());
            inner
        });
        assert!(outer.unwrap().is_err());
        assert!(!is_containing());
    }
}
