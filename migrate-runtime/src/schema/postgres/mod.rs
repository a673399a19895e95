//! PostgreSQL introspection from `pg_catalog`, for the current schema.

use std::collections::BTreeMap;

mod objects;
pub(crate) mod sources;

use super::{
    Check, Column, Deferrable, Exclusion, Filled, ForeignKey, Index, ObjectKind, PartitionOf, Schema, Table, Unique,
    normalise_action,
};
use super::{qualified, quote, split_qualified};
use crate::db::cell as text;
use crate::{Database, DbError};

const SEPARATOR: char = '\u{1f}';

fn list(value: &str) -> Vec<String> {
    value.split(SEPARATOR).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// One schema (namespace) being read: the default one, `current_schema()`,
/// whose names are kept as they are (a revision runs in whatever schema it
/// is given), or a listed one, whose names are written qualified.
#[derive(Debug, Clone, Default)]
pub(super) struct Namespace {
    name: Option<String>,
}

impl Namespace {
    /// `query`, its `current_schema()` meaning this namespace.
    fn sql(&self, query: &str) -> String {
        match &self.name {
            None => query.to_owned(),
            Some(name) => query.replace("current_schema()", &format!("'{}'", name.replace('\'', "''"))),
        }
    }

    /// The model's name of `local`, an object of this namespace.
    fn name(&self, local: &str) -> String {
        match &self.name {
            None => local.to_owned(),
            Some(namespace) => qualified(namespace, local),
        }
    }

    fn is_default(&self) -> bool {
        self.name.is_none()
    }
}

/// The SQL that gives, for a namespace column and a name column, the
/// model's name: the name in the default schema (the search path's first,
/// which [`Namespace::sql`] leaves alone), `"schema"."name"` elsewhere.
fn model_name(namespace: &str, local: &str) -> String {
    format!(
        "CASE WHEN {namespace} = (current_schemas(false))[1] THEN {local} \
         ELSE '\"' || replace({namespace}, '\"', '\"\"') || '\".\"' || replace({local}, '\"', '\"\"') || '\"' END"
    )
}

pub(super) fn introspect(db: &mut dyn Database, exclude: &str, extra: &[String]) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    for row in db.query_text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")? {
        schema.extensions.insert(text(&row, 0));
    }
    let dependencies = objects::Dependencies::read(db, extra)?;
    let namespaces =
        std::iter::once(Namespace::default()).chain(extra.iter().map(|name| Namespace { name: Some(name.clone()) }));
    for namespace in namespaces {
        if let Some(name) = &namespace.name {
            let exists =
                db.query_text(&format!("SELECT 1 FROM pg_namespace WHERE nspname = '{}'", name.replace('\'', "''")))?;
            if exists.is_empty() {
                continue;
            }
            objects::add_schema(&mut schema, name);
        }
        read_namespace(db, &mut schema, &namespace, &dependencies, exclude)?;
    }
    Ok(schema)
}

fn read_namespace(
    db: &mut dyn Database,
    schema: &mut Schema,
    namespace: &Namespace,
    dependencies: &objects::Dependencies,
    exclude: &str,
) -> Result<(), DbError> {
    for row in db.query_text(&namespace.sql(
        "SELECT t.typname, string_agg(e.enumlabel, E'\\x1f' ORDER BY e.enumsortorder) \
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = current_schema() GROUP BY t.typname",
    ))? {
        schema.enums.insert(namespace.name(&text(&row, 0)), list(&text(&row, 1)));
    }
    objects::introspect(db, schema, namespace, dependencies, exclude)?;
    let tables = db.query_text(&namespace.sql(&format!(
        "SELECT c.oid, c.relname, c.relpersistence = 'u', pg_get_partkeydef(c.oid), \
           (SELECT {} FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
            WHERE c.relispartition AND i.inhrelid = c.oid), \
           pg_get_expr(c.relpartbound, c.oid) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname",
        model_name("pn.nspname", "p.relname")
    )))?;
    let mut by_oid = BTreeMap::new();
    for row in tables {
        let (oid, local) = (text(&row, 0), text(&row, 1));
        if super::is_bookkeeping(&local, exclude) || !oid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let table = Table {
            name: namespace.name(&local),
            unlogged: text(&row, 2) == "t",
            partition_by: row.get(3).cloned().flatten(),
            partition_of: row.get(4).cloned().flatten().map(|parent| PartitionOf { parent, bound: text(&row, 5) }),
            ..Table::default()
        };
        by_oid.insert(oid, table);
    }
    read_tables(db, &mut by_oid, namespace)?;
    schema.tables.extend(by_oid.into_values().map(|table| (table.name.clone(), table)));
    Ok(())
}

/// The condition of `pg_get_constraintdef`'s `CHECK (...) [NOT VALID]`, and
/// whether it is `NOT VALID`.
fn check_expression(definition: &str) -> (String, bool) {
    let (definition, not_valid) = match definition.strip_suffix(" NOT VALID") {
        Some(checked) => (checked, true),
        None => (definition, false),
    };
    let expression = definition.strip_prefix("CHECK ").map_or(definition, |e| strip_outer_parens(e.trim()));
    (expression.to_owned(), not_valid)
}

/// PostgreSQL prints some expressions in a form that it parses back into
/// another (`theme IN ('a', 'b')` on a varchar column prints as
/// `... = ANY ((ARRAY[...])::text[])`, which prints back as
/// `... = ANY (ARRAY[(...)::text, ...])`). On a scratch database `db`
/// holding `schema`, brings each check, default, generated column, index
/// and view to the form that prints as itself, so that both sides of a
/// comparison, and a revision written from either, agree. Each round adds
/// probes (a `NOT VALID` constraint, a column, an index, a view) and drops
/// them: scratch databases only.
pub(crate) fn settle(db: &mut dyn Database, schema: &mut Schema) -> Result<(), DbError> {
    // All probes of a round in three round trips (create, read, drop); one
    // item at a time when the server refuses the batch.
    for _ in 0..4 {
        match settle_round(db, schema)? {
            Some(false) => return Ok(()),
            Some(true) => {}
            None => return settle_one_by_one(db, schema),
        }
    }
    Ok(())
}

/// Where a probe's printed text goes back to.
enum Slot {
    Check(String, usize),
    Default(String, usize),
    Generated(String, usize),
    Index(String, usize),
    View(String),
}

/// One round of [`settle`] for the whole schema: `Some(true)` when
/// anything changed, `None` when the batch of probes was refused.
fn settle_round(db: &mut dyn Database, schema: &mut Schema) -> Result<Option<bool>, DbError> {
    const PROBE: &str = "cargo_migrate_settle_";
    let (mut create, mut drop, mut slots) = (Vec::new(), Vec::new(), BTreeMap::new());
    for (t, table) in schema.tables.values().enumerate() {
        let quoted = quote(&table.name);
        let (mut adds, mut drops) = (Vec::new(), Vec::new());
        for (i, check) in table.checks.iter().enumerate() {
            let probe = format!("{PROBE}c{t}_{i}");
            adds.push(format!("ADD CONSTRAINT {probe} CHECK ({}) NOT VALID", check.expression));
            drops.push(format!("DROP CONSTRAINT {probe}"));
            slots.insert(probe, Slot::Check(table.name.clone(), i));
        }
        for (i, column) in table.columns.iter().enumerate() {
            if let Some(default) = &column.default {
                let probe = format!("{PROBE}d{t}_{i}");
                adds.push(format!("ADD COLUMN {probe} {} DEFAULT {default}", column.data_type));
                drops.push(format!("DROP COLUMN {probe}"));
                slots.insert(probe, Slot::Default(table.name.clone(), i));
            }
            let generated = match &column.filled {
                Some(Filled::Stored(expression)) => Some((expression, "STORED")),
                Some(Filled::Virtual(expression)) => Some((expression, "VIRTUAL")),
                _ => None,
            };
            if let Some((expression, kind)) = generated {
                let probe = format!("{PROBE}g{t}_{i}");
                adds.push(format!("ADD COLUMN {probe} {} GENERATED ALWAYS AS ({expression}) {kind}", column.data_type));
                drops.push(format!("DROP COLUMN {probe}"));
                slots.insert(probe, Slot::Generated(table.name.clone(), i));
            }
        }
        if !adds.is_empty() {
            create.push(format!("ALTER TABLE {quoted} {};", adds.join(", ")));
            drop.push(format!("ALTER TABLE {quoted} {};", drops.join(", ")));
        }
        let namespace = split_qualified(&table.name).0;
        for (i, index) in table.indexes.iter().enumerate() {
            let Some(definition) = &index.definition else { continue };
            let Some((head, rest)) = definition.split_once(" INDEX ") else { continue };
            let Some((_, rest)) = rest.split_once(" ON ") else { continue };
            let probe = format!("{PROBE}i{t}_{i}");
            create.push(format!("{head} INDEX {probe} ON {rest};"));
            let qualified = namespace.as_ref().map(|n| format!("{}.", quote(n))).unwrap_or_default();
            drop.push(format!("DROP INDEX {qualified}{probe};"));
            slots.insert(probe, Slot::Index(table.name.clone(), i));
        }
    }
    for (v, (key, object)) in schema.objects.iter().enumerate() {
        if !matches!(object.kind, ObjectKind::View | ObjectKind::MaterializedView) {
            continue;
        }
        let Some((_, body)) = object.definition.split_once(" AS\n") else { continue };
        let probe = format!("{PROBE}v{v}");
        create.push(format!("CREATE VIEW {probe} AS\n{};", body.trim_end_matches(';')));
        drop.push(format!("DROP VIEW {probe};"));
        slots.insert(probe, Slot::View(key.clone()));
    }
    if create.is_empty() {
        return Ok(Some(false));
    }
    if db.execute_batch(&create.join("\n")).is_err() {
        return Ok(None);
    }
    let printed = db.query_text(&format!(
        "SELECT conname, pg_get_constraintdef(oid), '' FROM pg_constraint WHERE conname LIKE '{PROBE}%' \
         UNION ALL \
         SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), '' FROM pg_attribute a \
           JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attname LIKE '{PROBE}%' \
         UNION ALL \
         SELECT c.relname, pg_get_indexdef(c.oid), quote_ident(n.nspname) FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i', 'I') AND c.relname LIKE '{PROBE}i%' \
         UNION ALL \
         SELECT c.relname, pg_get_viewdef(c.oid, true), '' FROM pg_class c WHERE c.relkind = 'v' AND c.relname LIKE '{PROBE}v%'"
    ));
    db.execute_batch(&drop.join("\n"))?;
    let mut changed = false;
    let mut update = |slot: Option<&mut String>, printed: String| {
        if let Some(slot) = slot
            && *slot != printed
        {
            *slot = printed;
            changed = true;
        }
    };
    for row in printed? {
        let (probe, printed) = (text(&row, 0), text(&row, 1));
        // A partitioned table's probe column is its partitions' too: the first says it.
        let Some(slot) = slots.remove(&probe) else { continue };
        match slot {
            Slot::Check(table, i) => {
                let check = schema.tables.get_mut(&table).and_then(|t| t.checks.get_mut(i));
                update(check.map(|c| &mut c.expression), check_expression(&printed).0);
            }
            Slot::Default(table, i) => {
                let column = schema.tables.get_mut(&table).and_then(|t| t.columns.get_mut(i));
                update(column.and_then(|c| c.default.as_mut()), printed);
            }
            Slot::Generated(table, i) => {
                let column = schema.tables.get_mut(&table).and_then(|t| t.columns.get_mut(i));
                let expression = match column.and_then(|c| c.filled.as_mut()) {
                    Some(Filled::Stored(expression) | Filled::Virtual(expression)) => Some(expression),
                    _ => None,
                };
                update(expression, printed);
            }
            Slot::Index(table, i) => {
                let Some(index) = schema.tables.get_mut(&table).and_then(|t| t.indexes.get_mut(i)) else { continue };
                let Some(definition) = &index.definition else { continue };
                let Some((head, rest)) = definition.split_once(" INDEX ") else { continue };
                let Some((name, _)) = rest.split_once(" ON ") else { continue };
                let Some((_, printed_rest)) = printed.split_once(&format!(" INDEX {probe} ON ")) else { continue };
                let printed_rest = printed_rest.strip_prefix("ONLY ").unwrap_or(printed_rest);
                let schema_name = text(&row, 2);
                let printed_rest = match split_qualified(&table).0 {
                    Some(_) => printed_rest,
                    None => printed_rest.strip_prefix(&format!("{schema_name}.")).unwrap_or(printed_rest),
                };
                let settled = format!("{head} INDEX {name} ON {printed_rest}");
                if let Some((_, predicate)) = settled.rsplit_once(" WHERE ") {
                    index.predicate = Some(predicate.to_owned());
                }
                update(index.definition.as_mut(), settled);
            }
            Slot::View(key) => {
                let Some(object) = schema.objects.get_mut(&key) else { continue };
                let Some((head, _)) = object.definition.split_once(" AS\n") else { continue };
                let settled = format!("{head} AS\n{};", printed.trim_end().trim_end_matches(';'));
                update(Some(&mut object.definition), settled);
            }
        }
    }
    for table in schema.tables.values_mut() {
        table.checks.sort();
    }
    Ok(Some(changed))
}

/// [`settle`] one table, index and view at a time, for a schema whose
/// probes the server refused as one batch.
fn settle_one_by_one(db: &mut dyn Database, schema: &mut Schema) -> Result<(), DbError> {
    for table in schema.tables.values_mut() {
        settle_expressions(db, table)?;
        for index in &mut table.indexes {
            if let Some(definition) = &index.definition {
                let settled = settle_index(db, definition, split_qualified(&table.name).0.as_deref())?;
                // The predicate as the settled definition has it.
                if let Some((_, predicate)) = settled.rsplit_once(" WHERE ") {
                    index.predicate = Some(predicate.to_owned());
                }
                index.definition = Some(settled);
            }
        }
    }
    for object in schema.objects.values_mut() {
        let word = match object.kind {
            ObjectKind::View => "VIEW",
            ObjectKind::MaterializedView => "MATERIALIZED VIEW",
            _ => continue,
        };
        let Some((head, body)) = object.definition.split_once(" AS\n") else { continue };
        let settled = settle_view(db, body.trim_end_matches(';'))?;
        debug_assert!(head.starts_with(&format!("CREATE {word} ")));
        object.definition = format!("{head} AS\n{settled};");
    }
    Ok(())
}

/// The checks, defaults and generated expressions of `table`, each in the
/// form that prints as itself: all of a table's probes in one `ALTER
/// TABLE` a round, read back in one query.
fn settle_expressions(db: &mut dyn Database, table: &mut Table) -> Result<(), DbError> {
    const PROBE: &str = "cargo_migrate_settle_";
    let quoted = quote(&table.name);
    let regclass = format!("'{}'::regclass", quoted.replace('\'', "''"));
    for _ in 0..4 {
        let mut probes = Vec::new();
        for (i, check) in table.checks.iter().enumerate() {
            probes.push(format!("ADD CONSTRAINT {PROBE}c{i} CHECK ({}) NOT VALID", check.expression));
        }
        for (i, column) in table.columns.iter().enumerate() {
            if let Some(default) = &column.default {
                probes.push(format!("ADD COLUMN {PROBE}d{i} {} DEFAULT {default}", column.data_type));
            }
            let generated = match &column.filled {
                Some(Filled::Stored(expression)) => Some((expression, "STORED")),
                Some(Filled::Virtual(expression)) => Some((expression, "VIRTUAL")),
                _ => None,
            };
            if let Some((expression, kind)) = generated {
                probes.push(format!(
                    "ADD COLUMN {PROBE}g{i} {} GENERATED ALWAYS AS ({expression}) {kind}",
                    column.data_type
                ));
            }
        }
        if probes.is_empty() {
            return Ok(());
        }
        db.execute_batch(&format!("ALTER TABLE {quoted} {}", probes.join(", ")))?;
        let printed = db.query_text(&format!(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = {regclass} AND conname LIKE '{PROBE}%' \
             UNION ALL \
             SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = {regclass} AND a.attname LIKE '{PROBE}%'"
        ))?;
        let mut drops: Vec<String> = Vec::new();
        let mut changed = false;
        for row in printed {
            let (probe, printed) = (text(&row, 0), text(&row, 1));
            let Some(which) = probe.strip_prefix(PROBE) else { continue };
            let Ok(i) = which[1..].parse::<usize>() else { continue };
            let slot = match &which[..1] {
                "c" => {
                    drops.push(format!("DROP CONSTRAINT {probe}"));
                    table.checks.get_mut(i).map(|check| &mut check.expression)
                }
                "d" => {
                    drops.push(format!("DROP COLUMN {probe}"));
                    table.columns.get_mut(i).and_then(|column| column.default.as_mut())
                }
                _ => {
                    drops.push(format!("DROP COLUMN {probe}"));
                    match table.columns.get_mut(i).and_then(|column| column.filled.as_mut()) {
                        Some(Filled::Stored(expression) | Filled::Virtual(expression)) => Some(expression),
                        _ => None,
                    }
                }
            };
            let printed = if which.starts_with('c') { check_expression(&printed).0 } else { printed };
            if let Some(slot) = slot.filter(|slot| **slot != printed) {
                *slot = printed;
                changed = true;
            }
        }
        drops.sort();
        drops.dedup();
        if !drops.is_empty() {
            db.execute_batch(&format!("ALTER TABLE {quoted} {}", drops.join(", ")))?;
        }
        if !changed {
            break;
        }
    }
    table.checks.sort();
    Ok(())
}

/// A view's query brought to the form that prints as itself.
fn settle_view(db: &mut dyn Database, body: &str) -> Result<String, DbError> {
    const PROBE: &str = "cargo_migrate_settle_view";
    let mut body = body.to_owned();
    for _ in 0..4 {
        db.execute_batch(&format!("CREATE VIEW {PROBE} AS\n{body}"))?;
        let rows = db.query_text(&format!("SELECT pg_get_viewdef('{PROBE}'::regclass, true)"))?;
        db.execute_batch(&format!("DROP VIEW {PROBE}"))?;
        let printed = text(rows.first().map_or(&[][..], Vec::as_slice), 0);
        let printed = printed.trim_end().trim_end_matches(';').to_owned();
        if printed == body {
            break;
        }
        body = printed;
    }
    Ok(body)
}

/// An index definition brought to the form that prints as itself, as
/// [`settle_expressions`] does for checks (a partial index's `IN` list, an
/// expression's casts): created under a probe name and printed back.
fn settle_index(db: &mut dyn Database, definition: &str, namespace: Option<&str>) -> Result<String, DbError> {
    // "CREATE [UNIQUE] INDEX name ON rest"
    let Some((head, rest)) = definition.split_once(" INDEX ") else { return Ok(definition.to_owned()) };
    let Some((name, rest)) = rest.split_once(" ON ") else { return Ok(definition.to_owned()) };
    let mut rest = rest.to_owned();
    for _ in 0..4 {
        let Some(printed) = print_index_rest(db, head, &rest, namespace)? else { break };
        if printed == rest {
            break;
        }
        rest = printed;
    }
    Ok(format!("{head} INDEX {name} ON {rest}"))
}

/// How PostgreSQL prints `{head} INDEX probe ON {rest}`, after `ON`: the
/// table unqualified in the default schema (`namespace` `None`), as it
/// must be elsewhere. `None` when the database refuses it.
pub(super) fn print_index_rest(
    db: &mut dyn Database,
    head: &str,
    rest: &str,
    namespace: Option<&str>,
) -> Result<Option<String>, DbError> {
    const PROBE: &str = "cargo_migrate_settle_index";
    // An index lives in its table's schema.
    let probe = match namespace {
        Some(namespace) => format!("{}.{PROBE}", quote(namespace)),
        None => PROBE.to_owned(),
    };
    if db.execute_batch(&format!("{head} INDEX {PROBE} ON {rest}")).is_err() {
        return Ok(None);
    }
    let regclass = format!("'{}'::regclass", probe.replace('\'', "''"));
    let rows = db.query_text(&format!(
        "SELECT pg_get_indexdef({regclass}), quote_ident(n.nspname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {regclass}"
    ));
    db.execute_batch(&format!("DROP INDEX {probe}"))?;
    let rows = rows?;
    let row = rows.first().map_or(&[][..], Vec::as_slice);
    let (printed, schema) = (text(row, 0), text(row, 1));
    let Some((_, printed_rest)) = printed.split_once(&format!(" INDEX {PROBE} ON ")) else { return Ok(None) };
    let printed_rest = printed_rest.strip_prefix("ONLY ").unwrap_or(printed_rest);
    Ok(Some(match namespace {
        // Another schema's index names its table qualified, as it must.
        Some(_) => printed_rest.to_owned(),
        None => printed_rest.strip_prefix(&format!("{schema}.")).unwrap_or(printed_rest).to_owned(),
    }))
}

/// `((a > 0) AND (b > 0))` is `(a > 0) AND (b > 0)`: strips parentheses
/// only while the first one closes at the very end.
fn strip_outer_parens(mut text: &str) -> &str {
    loop {
        let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else { return text };
        let mut depth = 0i32;
        let balanced = inner.chars().all(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth >= 0
        });
        if !balanced || depth != 0 {
            return text;
        }
        text = inner.trim();
    }
}

/// The columns, constraints and indexes of `tables` (by oid), one query
/// each for all of them.
fn read_tables(
    db: &mut dyn Database,
    tables: &mut BTreeMap<String, Table>,
    namespace: &Namespace,
) -> Result<(), DbError> {
    if tables.is_empty() {
        return Ok(());
    }
    let oids = format!("'{{{}}}'::oid[]", tables.keys().cloned().collect::<Vec<_>>().join(","));
    for row in db.query_text(&format!(
        "SELECT a.attrelid::text, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
         a.attidentity, a.attgenerated, \
         EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S' \
                 WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum \
                   AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'a'), \
         CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT t.typcollation FROM pg_type t WHERE t.oid = a.atttypid) \
           THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) ELSE '' END \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = ANY ({oids}) AND a.attnum > 0 AND NOT a.attisdropped AND NOT (c.relispartition AND a.attinhcount > 0) \
         ORDER BY a.attrelid, a.attnum"
    ))? {
        let Some(table) = tables.get_mut(&text(&row, 0)) else { continue };
        let row = &row[1..];
        let mut default = row.get(3).cloned().flatten();
        let owns_sequence = text(row, 6) == "t";
        let filled = match (text(row, 4).as_str(), text(row, 5).as_str()) {
            ("a", _) => Some(Filled::IdentityAlways),
            ("d", _) => Some(Filled::IdentityByDefault),
            (_, "s") => default.take().map(Filled::Stored),
            // PostgreSQL 18: computed when read.
            (_, "v") => default.take().map(Filled::Virtual),
            // serial: a nextval default of a sequence the column owns; the
            // sequence's name differs between databases, the column's kind does not.
            _ if owns_sequence && default.as_deref().is_some_and(|d| d.starts_with("nextval(")) => {
                default = None;
                Some(Filled::Serial)
            }
            _ => None,
        };
        table.columns.push(Column {
            name: text(row, 0),
            data_type: format!("{}{}", text(row, 1).to_ascii_lowercase(), text(row, 7)),
            nullable: text(row, 2) == "t",
            default,
            filled,
        });
    }
    let names = |column: &str| -> String {
        format!(
            "(SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.ord) FROM unnest(con.{column}) WITH ORDINALITY k(n, ord) \
             JOIN pg_attribute a ON a.attrelid = con.{rel} AND a.attnum = k.n)",
            rel = if column == "conkey" { "conrelid" } else { "confrelid" }
        )
    };
    for row in db.query_text(&format!(
        "SELECT con.conrelid::text, con.conname, con.contype, {}, \
         (SELECT {} FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE r.oid = con.confrelid), \
         {}, con.confdeltype, con.confupdtype, \
         pg_get_constraintdef(con.oid), con.condeferrable, con.condeferred, con.convalidated, \
         coalesce((SELECT to_jsonb(ix) ->> 'indnullsnotdistinct' FROM pg_index ix WHERE ix.indexrelid = con.conindid), 'false') \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         WHERE con.conrelid = ANY ({oids}) AND con.conparentid = 0 AND NOT (c.relispartition AND con.coninhcount > 0) \
         ORDER BY con.conname",
        names("conkey"),
        model_name("rn.nspname", "r.relname"),
        names("confkey")
    ))? {
        let Some(table) = tables.get_mut(&text(&row, 0)) else { continue };
        let row = &row[1..];
        let name = Some(text(row, 0));
        let columns = list(&text(row, 2));
        let deferrable = match (text(row, 8).as_str(), text(row, 9).as_str()) {
            ("t", "t") => Deferrable::InitiallyDeferred,
            ("t", _) => Deferrable::InitiallyImmediate,
            _ => Deferrable::No,
        };
        match text(row, 1).as_str() {
            "p" => {
                table.primary_key = columns;
                table.primary_key_name = name;
            }
            "u" => {
                let nulls_not_distinct = text(row, 11) == "true";
                table.uniques.push(Unique { name, columns, deferrable, nulls_not_distinct })
            }
            "x" => {
                let definition = text(row, 7);
                table.exclusions.push(Exclusion { name: text(row, 0), definition });
            }
            "f" => table.foreign_keys.push(ForeignKey {
                name,
                columns,
                referenced_table: text(row, 3),
                referenced_columns: list(&text(row, 4)),
                on_delete: normalise_action(&text(row, 5)),
                on_update: normalise_action(&text(row, 6)),
                deferrable,
                not_valid: text(row, 10) == "f",
            }),
            "c" => {
                let (expression, not_valid) = check_expression(&text(row, 7));
                table.checks.push(Check { name, expression, not_valid });
            }
            _ => {}
        }
    }
    for row in db.query_text(&format!(
        "SELECT ix.indrelid::text, i.relname, ix.indisunique, pg_get_expr(ix.indpred, ix.indrelid), \
         (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k, true), E'\\x1f' ORDER BY k) FROM generate_series(1, ix.indnkeyatts) k), \
         pg_get_indexdef(ix.indexrelid), quote_ident(n.nspname) \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_class i ON i.oid = ix.indexrelid \
         WHERE ix.indrelid = ANY ({oids}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid) \
           AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = ix.indexrelid) \
         ORDER BY i.relname"
    ))? {
        let Some(table) = tables.get_mut(&text(&row, 0)) else { continue };
        let row = &row[1..];
        // The default schema is where the revision runs, not part of the
        // index; an index on a partitioned table is printed `ON ONLY`, which
        // would leave its partitions without theirs.
        let (mut definition, schema) = (text(row, 4).replacen(" ON ONLY ", " ON ", 1), text(row, 5));
        if namespace.is_default() {
            definition = definition.replacen(&format!(" ON {schema}."), " ON ", 1);
        }
        table.indexes.push(Index {
            name: namespace.name(&text(row, 0)),
            unique: text(row, 1) == "t",
            predicate: row.get(2).cloned().flatten(),
            columns: list(&text(row, 3)),
            definition: Some(definition),
        });
    }
    for table in tables.values_mut() {
        table.uniques.sort();
        table.foreign_keys.sort();
        table.checks.sort();
        table.exclusions.sort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_expressions_keep_inner_parentheses() {
        assert_eq!(super::strip_outer_parens("((a > 0) AND (b > 0))"), "(a > 0) AND (b > 0)");
        assert_eq!(super::strip_outer_parens("((price > 0))"), "price > 0");
        assert_eq!(super::strip_outer_parens("(a > 0) AND (b > 0)"), "(a > 0) AND (b > 0)");
    }
}
