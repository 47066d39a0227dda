//! Parquet data sets, as Hugging Face `datasets` and pyarrow write them: every row's string column
//! `field` (default `text`) is a text, its id the row's `id` column (string or integer) when there is
//! one, else `<file stem>:<row number>` counted from 1, as for JSON Lines.

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::Text;
use crate::error::ConfigError;
use crate::{Error, Result};

/// The texts of the parquet file at `path`, from the column `field`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened; [`Error::Input`] (naming the file, and the row) for a
/// file that is not parquet, a missing `field` column, a row whose `field` is not a string, or an
/// empty text.
pub fn load_parquet(path: &Path, field: &str) -> Result<Vec<Text>> {
    let name = path.display().to_string();
    let bad = |what: String| Error::Input(format!("{name}: {what}"));
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(format!("not a readable parquet file: {e}")))?;
    let columns: Vec<String> = reader.metadata().file_metadata().schema_descr().root_schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    if !columns.iter().any(|c| c == field) {
        return Err(Error::Setting(ConfigError::NoTextColumn { file: name.clone(), field: field.to_string(), columns: columns.join(", ") }));
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let rows = reader.get_row_iter(None).map_err(|e| bad(format!("cannot read its rows: {e}")))?;
    let mut texts = Vec::new();
    for (i, row) in rows.enumerate() {
        let n = i + 1;
        let row = row.map_err(|e| bad(format!("row {n}: {e}")))?;
        let (mut text, mut id) = (None, None);
        for (column, value) in row.get_column_iter() {
            if column == field {
                text = Some(match value {
                    Field::Str(s) => s.clone(),
                    Field::Null => return Err(bad(format!("row {n}: the text is null"))),
                    other => return Err(bad(format!("row {n}: the column \"{field}\" is not a string ({other})"))),
                });
            } else if column == "id" {
                id = match value {
                    Field::Str(s) => Some(s.clone()),
                    Field::Int(x) => Some(x.to_string()),
                    Field::Long(x) => Some(x.to_string()),
                    _ => None,
                };
            }
        }
        let text = text.unwrap_or_default();
        let id = id.unwrap_or_else(|| format!("{stem}:{n}"));
        if text.trim().is_empty() {
            return Err(bad(format!("row {n}: the text `{id}` is empty")));
        }
        texts.push(Text { id, text });
    }
    Ok(texts)
}
