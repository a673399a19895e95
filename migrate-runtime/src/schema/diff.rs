//! The changes that turn one schema into another, in an order that respects
//! foreign keys: new tables before the keys that point at them, dropped keys
//! before the tables they point at.

use super::{Check, Column, ForeignKey, Index, Schema, Table, Unique};

/// One change. Renames cannot be told from a drop and an add; the renderer
/// says so in a comment, as Alembic does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateEnum { name: String, labels: Vec<String> },
    AddEnumValue { name: String, label: String, after: Option<String> },
    DropEnum { name: String, labels: Vec<String> },
    CreateTable(Table),
    DropTable(Table),
    AddColumn { table: String, column: Column },
    DropColumn { table: String, column: Column },
    AlterColumn { table: String, from: Column, to: Column },
    AddUnique { table: String, unique: Unique },
    DropUnique { table: String, unique: Unique },
    CreateIndex { table: String, index: Index },
    DropIndex { table: String, index: Index },
    AddForeignKey { table: String, foreign_key: ForeignKey },
    DropForeignKey { table: String, foreign_key: ForeignKey },
    AddCheck { table: String, check: Check },
    DropCheck { table: String, check: Check },
}

impl Change {
    /// Whether applying it can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            Change::DropTable(_) | Change::DropColumn { .. } | Change::DropEnum { .. } => true,
            Change::AlterColumn { from, to, .. } => from.data_type != to.data_type,
            _ => false,
        }
    }
}

/// What turns `from` into `to`. Empty when they are the same.
pub fn diff(from: &Schema, to: &Schema) -> Vec<Change> {
    let mut drop_keys = Vec::new();
    let mut drops = Vec::new();
    let mut creates = Vec::new();
    let mut alters = Vec::new();
    let mut add_keys = Vec::new();

    for (name, labels) in &to.enums {
        match from.enums.get(name) {
            None => creates.push(Change::CreateEnum { name: name.clone(), labels: labels.clone() }),
            Some(old) => {
                for (i, label) in labels.iter().enumerate() {
                    if !old.contains(label) {
                        let after = i.checked_sub(1).map(|j| labels[j].clone());
                        creates.push(Change::AddEnumValue { name: name.clone(), label: label.clone(), after });
                    }
                }
            }
        }
    }
    for (name, table) in &to.tables {
        match from.tables.get(name) {
            None => {
                let mut bare = table.clone();
                bare.foreign_keys.clear();
                let indexes = std::mem::take(&mut bare.indexes);
                creates.push(Change::CreateTable(bare));
                for index in indexes {
                    alters.push(Change::CreateIndex { table: name.clone(), index });
                }
                for foreign_key in &table.foreign_keys {
                    add_keys.push(Change::AddForeignKey { table: name.clone(), foreign_key: foreign_key.clone() });
                }
            }
            Some(old) => diff_table(old, table, &mut drop_keys, &mut alters, &mut add_keys),
        }
    }
    for (name, table) in &from.tables {
        if !to.tables.contains_key(name) {
            for foreign_key in &table.foreign_keys {
                drop_keys.push(Change::DropForeignKey { table: name.clone(), foreign_key: foreign_key.clone() });
            }
            let mut bare = table.clone();
            bare.foreign_keys.clear();
            drops.push(Change::DropTable(bare));
        }
    }
    for (name, labels) in &from.enums {
        if !to.enums.contains_key(name) {
            drops.push(Change::DropEnum { name: name.clone(), labels: labels.clone() });
        }
    }
    let mut changes = drop_keys;
    changes.extend(creates);
    changes.extend(alters);
    changes.extend(drops);
    changes.extend(add_keys);
    changes
}

fn diff_table(
    old: &Table,
    new: &Table,
    drop_keys: &mut Vec<Change>,
    alters: &mut Vec<Change>,
    add_keys: &mut Vec<Change>,
) {
    let table = new.name.clone();
    for foreign_key in old.foreign_keys.iter().filter(|k| !new.foreign_keys.iter().any(|n| same_fk(n, k))) {
        drop_keys.push(Change::DropForeignKey { table: table.clone(), foreign_key: foreign_key.clone() });
    }
    for index in old.indexes.iter().filter(|i| !new.indexes.contains(i)) {
        alters.push(Change::DropIndex { table: table.clone(), index: index.clone() });
    }
    for unique in old.uniques.iter().filter(|u| !new.uniques.iter().any(|n| n.columns == u.columns)) {
        alters.push(Change::DropUnique { table: table.clone(), unique: unique.clone() });
    }
    for check in old.checks.iter().filter(|c| !new.checks.iter().any(|n| n.expression == c.expression)) {
        alters.push(Change::DropCheck { table: table.clone(), check: check.clone() });
    }
    for column in &new.columns {
        match old.column(&column.name) {
            None => alters.push(Change::AddColumn { table: table.clone(), column: column.clone() }),
            Some(before) if before != column => {
                alters.push(Change::AlterColumn { table: table.clone(), from: before.clone(), to: column.clone() })
            }
            Some(_) => {}
        }
    }
    for column in old.columns.iter().filter(|c| new.column(&c.name).is_none()) {
        alters.push(Change::DropColumn { table: table.clone(), column: column.clone() });
    }
    for check in new.checks.iter().filter(|c| !old.checks.iter().any(|o| o.expression == c.expression)) {
        alters.push(Change::AddCheck { table: table.clone(), check: check.clone() });
    }
    for unique in new.uniques.iter().filter(|u| !old.uniques.iter().any(|o| o.columns == u.columns)) {
        alters.push(Change::AddUnique { table: table.clone(), unique: unique.clone() });
    }
    for index in new.indexes.iter().filter(|i| !old.indexes.contains(i)) {
        alters.push(Change::CreateIndex { table: table.clone(), index: index.clone() });
    }
    for foreign_key in new.foreign_keys.iter().filter(|k| !old.foreign_keys.iter().any(|o| same_fk(o, k))) {
        add_keys.push(Change::AddForeignKey { table: table.clone(), foreign_key: foreign_key.clone() });
    }
}

/// Foreign keys are the same when they say the same thing, whatever their names.
fn same_fk(a: &ForeignKey, b: &ForeignKey) -> bool {
    a.columns == b.columns
        && a.referenced_table == b.referenced_table
        && a.referenced_columns == b.referenced_columns
        && a.on_delete == b.on_delete
        && a.on_update == b.on_update
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str, nullable: bool) -> Column {
        Column { name: name.into(), data_type: data_type.into(), nullable, default: None, generated: false }
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        Table { name: name.into(), columns, primary_key: vec!["id".into()], ..Table::default() }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema { tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(), enums: Default::default() }
    }

    #[test]
    fn no_difference_no_change() {
        let s = schema(vec![table("users", vec![column("id", "integer", false)])]);
        assert!(diff(&s, &s).is_empty());
    }

    #[test]
    fn columns_added_dropped_and_altered() {
        let before = schema(vec![table("users", vec![column("id", "integer", false), column("nick", "text", true)])]);
        let after = schema(vec![table("users", vec![column("id", "bigint", false), column("email", "text", false)])]);
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:#?}");
        assert!(matches!(&changes[0], Change::AlterColumn { to, .. } if to.data_type == "bigint"));
        assert!(matches!(&changes[1], Change::AddColumn { column, .. } if column.name == "email"));
        assert!(matches!(&changes[2], Change::DropColumn { column, .. } if column.name == "nick"));
        assert!(changes[0].is_destructive() && !changes[1].is_destructive() && changes[2].is_destructive());
    }

    #[test]
    fn new_tables_come_before_the_keys_that_point_at_them() {
        let fk = ForeignKey {
            name: None,
            columns: vec!["user_id".into()],
            referenced_table: "users".into(),
            referenced_columns: vec!["id".into()],
            on_delete: "CASCADE".into(),
            on_update: "NO ACTION".into(),
        };
        let mut posts = table("posts", vec![column("id", "integer", false), column("user_id", "integer", false)]);
        posts.foreign_keys.push(fk);
        let after = schema(vec![table("users", vec![column("id", "integer", false)]), posts]);
        let changes = diff(&Schema::default(), &after);
        let kinds: Vec<&str> = changes
            .iter()
            .map(|c| match c {
                Change::CreateTable(t) => t.name.as_str(),
                Change::AddForeignKey { .. } => "fk",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["posts", "users", "fk"]);
        let back = diff(&after, &Schema::default());
        assert!(matches!(back[0], Change::DropForeignKey { .. }), "{back:#?}");
    }

    #[test]
    fn enum_values_are_added_in_place() {
        let mut before = Schema::default();
        before.enums.insert("mood".into(), vec!["sad".into(), "happy".into()]);
        let mut after = before.clone();
        after.enums.insert("mood".into(), vec!["sad".into(), "ok".into(), "happy".into()]);
        assert_eq!(
            diff(&before, &after),
            [Change::AddEnumValue { name: "mood".into(), label: "ok".into(), after: Some("sad".into()) }]
        );
    }
}
