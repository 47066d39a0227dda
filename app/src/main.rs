//! The cram web app. Until its own issue lands this is a placeholder page: `index.html` explains what
//! is coming and links to the command-line tool.
fn main() {}
