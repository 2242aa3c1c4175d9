//! A real, small tmpfs for tests of a full disk.

use std::path::Path;

/// A real, small tmpfs mounted for the test (grove's tests run as root, as CI does): a disk that
/// fills up for real. Unmounted when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None when this process may not mount (not root): the test says so and does nothing.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("not root: no tmpfs can be mounted, the full-disk test is skipped");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let target = c(dir.path().to_str().unwrap());
        let options = c(&format!("size={size}"));
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::mount(
                c("tmpfs").as_ptr(),
                target.as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `name` until the disk is full.
    pub fn fill(&self, name: &str) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join(name)).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        let _ = file.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.path().to_str().unwrap()).unwrap();
        // SAFETY: a valid path; lazily, so a process still inside cannot keep it mounted.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}
