//! Helpers for the end-to-end tests: run the real `cram` binary in a temporary folder, find the
//! fixtures, and read its JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A fixture under `core/tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("core/tests/fixtures").join(rel)
}

/// The `cram` binary of the same profile as this test (`scripts/test.sh` builds it first);
/// `CRAM_BIN` overrides.
pub fn cram_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CRAM_BIN") {
        return p.into();
    }
    // target/<profile>/deps/<test> -> target/<profile>/cram
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").join("cram");
    assert!(bin.exists(), "{} is missing: build it first with `cargo build -p cram-cli` (scripts/test.sh does)", bin.display());
    bin
}

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// How a finished process ended.
    fn of(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The standard output parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr);
        self
    }

    /// Asserts a failed run: exit code 2, one `error:` line that contains `needle`, no panic.
    pub fn expect_error(self, needle: &str) -> Self {
        let run = self.expect_code(2);
        assert!(!run.stderr.contains("panicked"), "the binary panicked:\n{}", run.stderr);
        assert!(run.stderr.contains("error:"), "no error line:\n{}", run.stderr);
        assert!(run.stderr.contains(needle), "the error does not mention {needle:?}:\n{}", run.stderr);
        run
    }
}

/// A temporary folder with `cram` run inside it.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A path inside the folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file inside the folder and returns its path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Runs `cram args...` in this folder.
    pub fn cram(&self, args: &[&str]) -> Run {
        self.cram_stdin(args, None)
    }

    /// Runs `cram args...` with `stdin` as standard input.
    pub fn cram_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.cram_with(args, stdin.map(str::as_bytes), &[])
    }

    /// Runs `cram args...` with `stdin` as standard input (any bytes) and the variables `env` set.
    pub fn cram_with(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
        use std::io::Write;
        let mut cmd = Command::new(cram_bin());
        cmd.args(args)
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("cram runs");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(s) = stdin {
                input.write_all(s).expect("write stdin");
            }
        }
        Run::of(child.wait_with_output().expect("cram finishes"))
    }
}

impl Default for Dir {
    fn default() -> Self {
        Self::new()
    }
}

impl Dir {
    /// Runs `cram args` in this folder until it has written `checkpoint` (a training's file, at
    /// most 2 minutes), lets it run 0.3 s more, then sends it SIGTERM (what Ctrl-C asks too) and
    /// returns how it ended.
    #[cfg(unix)]
    pub fn cram_stopped_after(&self, args: &[&str], checkpoint: &str) -> Run {
        let child = Command::new(cram_bin())
            .args(args)
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cram runs");
        let started = std::time::Instant::now();
        while !self.path(checkpoint).exists() {
            assert!(started.elapsed().as_secs() < 120, "no {checkpoint} within 2 minutes");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs").success());
        Run::of(child.wait_with_output().expect("cram finishes"))
    }
}

/// The tiny Llama fixture with a tokenizer (a Hugging Face folder), as a `--model` string.
pub fn tiny_model() -> String {
    fixture("llama_gguf").display().to_string()
}

/// The default model's file, if fetched; in CI its absence is a failure.
pub fn default_model() -> Option<PathBuf> {
    let p = cram_core::aliases::alias_path(cram_core::aliases::DEFAULT_MODEL).expect("the default model is an alias");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{} is missing in CI (scripts/fetch-default-model.sh fetches it)", p.display());
    }
    eprintln!("skipping: the default model is not fetched (bash scripts/fetch-default-model.sh)");
    None
}

/// The tiny Llama's folder in `dir/name` with its `tokenizer.json` changed by `change`; returns
/// `name`.
pub fn tokenizer_variant<'a>(dir: &Dir, name: &'a str, change: impl FnOnce(&mut serde_json::Value)) -> &'a str {
    let folder = dir.path(name);
    std::fs::create_dir_all(&folder).unwrap();
    for f in ["model.safetensors", "config.json"] {
        std::fs::copy(fixture("llama_gguf").join(f), folder.join(f)).unwrap();
    }
    let mut tok: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("llama_gguf/tokenizer.json")).unwrap()).unwrap();
    change(&mut tok);
    std::fs::write(folder.join("tokenizer.json"), tok.to_string()).unwrap();
    name
}

/// Another model than [`tiny_model`] in `dir/other`: the tiny Llama's folder with another norm
/// epsilon (files made with the tiny model must be refused by it). Returns its name in `dir`.
pub fn other_model(dir: &Dir) -> &'static str {
    let other = dir.path("other");
    std::fs::create_dir_all(&other).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("llama_gguf").join(f), other.join(f)).unwrap();
    }
    let config = std::fs::read_to_string(fixture("llama_gguf/config.json")).unwrap().replace("1e-05", "2e-05");
    std::fs::write(other.join("config.json"), config).unwrap();
    "other"
}
