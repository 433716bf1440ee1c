//! Result printing: tables, the API's JSON, or one field per line.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};

use crate::error::Error;
use crate::json::Json;

/// Output format of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people
    Table,
    /// The API's JSON, pretty-printed
    Json,
}

/// The output streams of certctl, and whether a person watches them.
pub struct Io<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// Whether stdout is a terminal: tables wrap to its width and progress bars are drawn
    /// (on stderr) only then.
    pub interactive: bool,
}

/// A table column: its header and the dot-separated path of the field it shows.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub path: &'static str,
}

/// Returns a column showing the field at `path` under `header`.
pub const fn column(header: &'static str, path: &'static str) -> Column {
    Column { header, path }
}

/// Writes results in the chosen format.
pub struct Output<'a, 'io> {
    pub io: &'a mut Io<'io>,
    pub format: Format,
    /// `--field`: print only this field.
    pub field: Option<String>,
}

impl Output<'_, '_> {
    /// Returns whether progress bars are shown: on a terminal, in table format only.
    pub fn decorated(&self) -> bool {
        self.io.interactive && self.format == Format::Table && self.field.is_none()
    }

    /// Returns whether the output is a table, so that lines for people are printed too.
    pub fn is_table(&self) -> bool {
        self.format == Format::Table && self.field.is_none()
    }

    /// Prints a page (`{"items": [...]}`) as a table of `columns`, as JSON, or one field per
    /// item.
    pub fn list(&mut self, page: &Json, columns: &[Column]) -> Result<(), Error> {
        let items = page
            .get("items")
            .and_then(Json::as_array)
            .unwrap_or_default();
        if let Some(field) = self.field.clone() {
            // A field that no item has is a typo, so report it with the names there are.
            if let Some(first) = items.first()
                && items.iter().all(|item| item.path(&field).is_none())
            {
                return self.print_field(first, &field);
            }
            // One line per item, so that line N belongs to item N: an item without the field
            // gets an empty line, and a list value goes on one line, joined by commas.
            for item in items {
                let line = match item.path(&field) {
                    None => String::new(),
                    Some(Json::Array(values)) => {
                        values.iter().map(plain).collect::<Vec<_>>().join(",")
                    }
                    Some(other) => plain(other),
                };
                writeln!(self.io.stdout, "{line}").map_err(Error::Write)?;
            }
            return Ok(());
        }
        match self.format {
            Format::Json => self.json(page),
            Format::Table => {
                let table = list_table(items, columns, self.io.interactive);
                writeln!(self.io.stdout, "{table}").map_err(Error::Write)?;
                if let Some(cursor) = page.str("next_cursor") {
                    self.note(&format!(
                        "more results: add --cursor {cursor} for the next page, or --all for \
                         every page"
                    ))?;
                }
                Ok(())
            }
        }
    }

    /// Prints one resource as a two-column table of its fields, as JSON, or one field.
    pub fn object(&mut self, object: &Json) -> Result<(), Error> {
        if let Some(field) = self.field.clone() {
            return self.print_field(object, &field);
        }
        match self.format {
            Format::Json => self.json(object),
            Format::Table => {
                let table = object_table(object, self.io.interactive);
                writeln!(self.io.stdout, "{table}").map_err(Error::Write)
            }
        }
    }

    /// Prints `value` as pretty JSON.
    pub fn json(&mut self, value: &Json) -> Result<(), Error> {
        writeln!(self.io.stdout, "{}", value.to_pretty()).map_err(Error::Write)
    }

    /// Prints a line to stdout in table format only, such as a job's summary.
    pub fn line(&mut self, text: &str) -> Result<(), Error> {
        if self.is_table() {
            writeln!(self.io.stdout, "{text}").map_err(Error::Write)?;
        }
        Ok(())
    }

    /// Prints a message for people to stderr, whatever the format, so that it never mixes
    /// with the output a script reads.
    pub fn note(&mut self, text: &str) -> Result<(), Error> {
        writeln!(self.io.stderr, "{text}").map_err(Error::Write)
    }

    fn print_field(&mut self, value: &Json, field: &str) -> Result<(), Error> {
        let Some(found) = value.path(field) else {
            let names = match value {
                Json::Object(members) => members
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            return Err(Error::Failed(format!(
                "the result has no field {field:?}; its fields are: {names}"
            )));
        };
        match found {
            Json::Array(items) => {
                for item in items {
                    writeln!(self.io.stdout, "{}", plain(item)).map_err(Error::Write)?;
                }
                Ok(())
            }
            other => writeln!(self.io.stdout, "{}", plain(other)).map_err(Error::Write),
        }
    }
}

fn new_table(interactive: bool) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    if interactive {
        table.set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        // Without a terminal there is no width to wrap to and no styling to apply.
        table.force_no_tty();
    }
    table
}

/// Builds a table with one row per item and one column per `columns` entry.
pub fn list_table(items: &[Json], columns: &[Column], interactive: bool) -> Table {
    let mut table = new_table(interactive);
    table.set_header(columns.iter().map(|column| column.header));
    for item in items {
        table.add_row(columns.iter().map(|column| cell(item.path(column.path))));
    }
    table
}

/// Builds a two-column table of every field of `object`; nested objects become dotted
/// field names such as `progress.orders`.
pub fn object_table(object: &Json, interactive: bool) -> Table {
    let mut table = new_table(interactive);
    table.set_header(["FIELD", "VALUE"]);
    let mut rows = Vec::new();
    flatten("", object, &mut rows);
    for (name, value) in rows {
        table.add_row([name, value]);
    }
    table
}

fn flatten(prefix: &str, value: &Json, rows: &mut Vec<(String, String)>) {
    match value {
        Json::Object(members) if !members.is_empty() => {
            for (name, member) in members {
                let name = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                flatten(&name, member, rows);
            }
        }
        other => rows.push((prefix.to_owned(), cell(Some(other)))),
    }
}

/// Returns the text of a table cell: `-` for a missing or null value, arrays of text joined
/// with commas, PEM blocks replaced by a note.
pub fn cell(value: Option<&Json>) -> String {
    match value {
        None | Some(Json::Null) => "-".to_owned(),
        Some(Json::String(text)) if is_pem(text) => "(PEM; shown by --output json)".to_owned(),
        Some(Json::Array(items)) if !items.is_empty() && items.iter().all(is_pem_value) => {
            format!("({} PEM blocks; shown by --output json)", items.len())
        }
        Some(Json::Array(items)) if items.iter().all(is_scalar) => {
            items.iter().map(plain).collect::<Vec<_>>().join(", ")
        }
        Some(Json::Array(items)) => format!("({} entries; shown by --output json)", items.len()),
        Some(Json::Object(members)) if members.is_empty() => "-".to_owned(),
        Some(other) => plain(other),
    }
}

/// Returns a value as plain text: strings without quotes, other values as JSON.
fn plain(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        Json::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn is_pem(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

fn is_pem_value(value: &Json) -> bool {
    value.as_str().is_some_and(is_pem)
}

fn is_scalar(value: &Json) -> bool {
    !matches!(value, Json::Array(_) | Json::Object(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        Json::parse(text.as_bytes()).expect("valid JSON")
    }

    #[test]
    fn list_table_shows_chosen_columns() {
        let page = parse(
            r#"{"items":[
                {"id":"o-1","status":"ISSUED","dns_names":["a.test","b.test"],"progress":{"orders":3}},
                {"id":"o-2","status":"PENDING","dns_names":[]}
            ]}"#,
        );
        let items = page.get("items").and_then(Json::as_array).expect("items");
        let columns = [
            column("ID", "id"),
            column("STATUS", "status"),
            column("NAMES", "dns_names"),
            column("ORDERS", "progress.orders"),
        ];

        let table = list_table(items, &columns, false).to_string();

        assert_eq!(
            table,
            "\
┌─────┬─────────┬────────────────┬────────┐
│ ID  ┆ STATUS  ┆ NAMES          ┆ ORDERS │
╞═════╪═════════╪════════════════╪════════╡
│ o-1 ┆ ISSUED  ┆ a.test, b.test ┆ 3      │
│ o-2 ┆ PENDING ┆                ┆ -      │
└─────┴─────────┴────────────────┴────────┘"
        );
    }

    #[test]
    fn object_table_flattens_nested_fields_in_order() {
        let job = parse(
            r#"{"id":"j-1","state":"succeeded","progress":{"pages":1,"orders":12},
                "restore_deleted":false,"error":null}"#,
        );

        let table = object_table(&job, false).to_string();

        assert_eq!(
            table,
            "\
┌─────────────────┬───────────┐
│ FIELD           ┆ VALUE     │
╞═════════════════╪═══════════╡
│ id              ┆ j-1       │
│ state           ┆ succeeded │
│ progress.pages  ┆ 1         │
│ progress.orders ┆ 12        │
│ restore_deleted ┆ false     │
│ error           ┆ -         │
└─────────────────┴───────────┘"
        );
    }

    #[test]
    fn pem_values_are_replaced_by_a_note() {
        let pem = Json::String("-----BEGIN CERTIFICATE-----\nMIIB\n".to_owned());
        let chain = Json::Array(vec![pem.clone(), pem.clone()]);

        assert_eq!(cell(Some(&pem)), "(PEM; shown by --output json)");
        assert_eq!(cell(Some(&chain)), "(2 PEM blocks; shown by --output json)");
    }

    #[test]
    fn missing_and_null_cells_read_as_dash() {
        assert_eq!(cell(None), "-");
        assert_eq!(cell(Some(&Json::Null)), "-");
        assert_eq!(cell(Some(&Json::Bool(true))), "true");
    }

    /// Runs `print` on a table-format output limited to `field`, and returns its result, its
    /// stdout and its stderr.
    fn captured(
        field: Option<&str>,
        print: impl FnOnce(&mut Output<'_, '_>) -> Result<(), Error>,
    ) -> (Result<(), Error>, String, String) {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let result = {
            let mut io = Io {
                stdout: &mut stdout,
                stderr: &mut stderr,
                interactive: false,
            };
            let mut output = Output {
                io: &mut io,
                format: Format::Table,
                field: field.map(str::to_owned),
            };
            print(&mut output)
        };
        (
            result,
            String::from_utf8(stdout).expect("UTF-8"),
            String::from_utf8(stderr).expect("UTF-8"),
        )
    }

    #[test]
    fn field_prints_each_item_on_its_own_line() {
        let page = parse(r#"{"items":[{"id":"a"},{"id":"b"}],"next_cursor":"c"}"#);

        let (result, stdout, stderr) = captured(Some("id"), |output| output.list(&page, &[]));

        result.expect("printed");
        assert_eq!(stdout, "a\nb\n");
        assert!(stderr.is_empty());
    }

    #[test]
    fn list_field_gives_one_line_per_item() {
        let page = parse(
            r#"{"items":[{"id":"a","names":["x","y"]},{"id":"b"},{"id":"c","names":["z"]}]}"#,
        );

        let (result, stdout, _) = captured(Some("names"), |output| output.list(&page, &[]));

        result.expect("the field is on some items");
        assert_eq!(stdout, "x,y\n\nz\n");
    }

    #[test]
    fn unknown_field_lists_the_known_ones() {
        let object = parse(r#"{"id":"a","status":"ISSUED"}"#);

        let (result, _, _) = captured(Some("state"), |output| output.object(&object));

        assert_eq!(
            result.expect_err("no such field").to_string(),
            "error: the result has no field \"state\"; its fields are: id, status"
        );
    }

    #[test]
    fn table_list_points_to_the_next_page() {
        let page = parse(r#"{"items":[],"next_cursor":"abc"}"#);

        let (result, _, stderr) =
            captured(None, |output| output.list(&page, &[column("ID", "id")]));

        result.expect("printed");
        assert_eq!(
            stderr,
            "more results: add --cursor abc for the next page, or --all for every page\n"
        );
    }
}
