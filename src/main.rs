fn main() {
    limit_malloc_arenas();
    std::process::exit(grove::cli::main());
}

/// glibc gives threads that allocate at once arenas of their own, up to 8 per core, and memory
/// freed in one arena serves only the threads using it. grove's threads per agent (a PTY reader
/// recording output, a display thread parsing it into the pane) each kept their own peaks
/// resident: 8 flooding agents cost about 10 MB more than with 2 arenas, at the same speed (see
/// the benchmark's peak RSS). A `MALLOC_ARENA_MAX` in the environment is left to decide.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a parameter of the allocator; this runs before grove starts
        // any thread.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}
