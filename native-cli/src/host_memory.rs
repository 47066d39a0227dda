//! This process's peak resident memory on the host, as the kernel counts it (`VmHWM` in
//! `/proc/self/status` on Linux): what `cram info` reports after loading a model, to show that a
//! sharded checkpoint streams through host memory instead of being held whole.

/// Peak resident set size in bytes, where the OS reports it (Linux); `None` elsewhere.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
