//! What an admin command prints: one JSON document (`--json`) or an
//! aligned text table for people. Every command builds a [`Report`] with
//! both forms from the same data, so they cannot disagree.

use serde::Serialize;

/// Widest cell printed in a table (longer text is cut with `…`).
pub const CELL_CHARS_MAX: usize = 80;

/// A command's result in both forms.
pub struct Report {
    /// The JSON document.
    pub json: serde_json::Value,
    /// The table.
    pub table: Table,
}

impl Report {
    /// A report of `value` shown as `table`.
    pub fn new<T: Serialize>(value: &T, table: Table) -> Report {
        Report {
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            table,
        }
    }

    /// Prints it in the chosen form.
    pub fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&self.json).unwrap_or_default()
            );
        } else {
            print!("{}", self.table.render());
        }
    }
}

/// Rows under a header line.
#[derive(Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    footer: Vec<String>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            ..Table::default()
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Adds a line printed after the rows.
    pub fn footer(&mut self, line: String) {
        self.footer.push(line);
    }

    /// The table as text.
    pub fn render(&self) -> String {
        let cell = |s: &str| -> String {
            if s.chars().count() > CELL_CHARS_MAX {
                let cut: String = s.chars().take(CELL_CHARS_MAX - 1).collect();
                format!("{cut}…")
            } else {
                s.to_owned()
            }
        };
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| cell(c)).collect())
            .collect();
        for row in &rows {
            for (i, c) in row.iter().enumerate() {
                let w = c.chars().count();
                match widths.get_mut(i) {
                    Some(slot) => *slot = (*slot).max(w),
                    None => widths.push(w),
                }
            }
        }
        let line = |cells: &[String]| -> String {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                if i + 1 == cells.len() {
                    out.push_str(c);
                } else {
                    out.push_str(&format!("{c:<w$}  "));
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.headers);
        for row in &rows {
            out.push_str(&line(row));
        }
        for f in &self.footer {
            out.push_str(f);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_long_cells_cut() {
        let mut t = Table::new(&["A", "BB"]);
        t.row(vec!["xyz".into(), "1".into()]);
        t.row(vec!["q".repeat(CELL_CHARS_MAX + 5), "2".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(format!("{:<80}  BB", "A").as_str())
        );
        assert!(lines.get(2).is_some_and(|l| l.contains('…')));
    }
}
