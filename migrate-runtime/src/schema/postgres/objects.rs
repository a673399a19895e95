//! PostgreSQL objects other than tables and enums, read from `pg_catalog`
//! with the server's own printers (`pg_get_functiondef`, `pg_get_viewdef`,
//! `pg_get_triggerdef`, ...), so that two are the same when the server
//! prints the same SQL for them. Each object knows what it depends on
//! (from `pg_depend`), for the order of a revision's statements.

use std::collections::{BTreeMap, BTreeSet};

use super::{Namespace, model_name};
use crate::db::cell as text;
use crate::schema::{Object, ObjectKind, Schema, quote as q, table_key};
use crate::{Database, DbError};

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Objects an extension made are the extension's.
fn not_from_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{class}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// The SQL giving the key ([`Object::key`] or [`table_key`]) of the object
/// a `pg_depend` row `d` refers to, when it lives in one of `namespaces`
/// (an SQL array); NULL otherwise.
fn referenced_key(namespaces: &str) -> String {
    format!(
        "CASE d.refclassid \
  WHEN 'pg_class'::regclass THEN (SELECT CASE r.relkind WHEN 'r' THEN 'table ' WHEN 'p' THEN 'table ' WHEN 'v' THEN 'view ' \
      WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' END || {} \
    FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE r.oid = d.refobjid AND rn.nspname = ANY ({namespaces})) \
  WHEN 'pg_type'::regclass THEN (SELECT CASE WHEN ty.typtype = 'd' THEN 'domain ' || {} \
      WHEN ty.typtype = 'c' THEN (SELECT CASE r.relkind WHEN 'c' THEN 'type ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' \
        ELSE 'table ' END || {} FROM pg_class r WHERE r.oid = ty.typrelid) END \
    FROM pg_type ty JOIN pg_namespace tn ON tn.oid = ty.typnamespace WHERE ty.oid = d.refobjid AND tn.nspname = ANY ({namespaces})) \
  WHEN 'pg_proc'::regclass THEN (SELECT CASE pr.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || {} || '(' \
      || pg_get_function_identity_arguments(pr.oid) || ')' \
    FROM pg_proc pr JOIN pg_namespace pn ON pn.oid = pr.pronamespace WHERE pr.oid = d.refobjid AND pn.nspname = ANY ({namespaces})) \
  END",
        model_name("rn.nspname", "r.relname"),
        model_name("tn.nspname", "ty.typname"),
        model_name("tn.nspname", "r.relname"),
        model_name("pn.nspname", "pr.proname"),
    )
}

/// What each object (by catalog and oid) depends on in the schemas read.
pub(super) struct Dependencies(BTreeMap<(String, String), BTreeSet<String>>);

impl Dependencies {
    /// Dependencies on objects of the default schema and of `extra`.
    pub(super) fn read(db: &mut dyn Database, extra: &[String]) -> Result<Dependencies, DbError> {
        let mut map: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let namespaces: Vec<String> = extra.iter().map(|n| format!(", '{}'", n.replace('\'', "''"))).collect();
        let namespaces = format!("ARRAY[current_schema(){}]::name[]", namespaces.concat());
        // A column referred to is also named on its own (`column table.name`),
        // for what must be rebuilt when that column's type changes.
        for row in db.query_text(&format!(
            "SELECT d.classid::regclass::text, d.objid::text, {}, \
               CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 THEN \
                 (SELECT 'column ' || {} || '.' || a.attname FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace \
                  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = d.refobjsubid \
                  WHERE r.oid = d.refobjid AND r.relkind IN ('r', 'p') AND rn.nspname = ANY ({namespaces})) END \
             FROM pg_depend d \
             WHERE d.deptype = 'n' AND d.classid IN ('pg_proc'::regclass, 'pg_rewrite'::regclass, 'pg_type'::regclass, \
             'pg_trigger'::regclass, 'pg_policy'::regclass, 'pg_class'::regclass)",
            referenced_key(&namespaces),
            model_name("rn.nspname", "r.relname"),
        ))? {
            for key in [row.get(2), row.get(3)].into_iter().flatten().flatten() {
                map.entry((text(&row, 0), text(&row, 1))).or_default().insert(key.clone());
            }
        }
        Ok(Dependencies(map))
    }

    /// What `(catalog, oid)` depends on, less `own` (a view's rule names the view).
    fn of(&self, catalog: &str, oid: &str, own: &str) -> BTreeSet<String> {
        let mut found = self.0.get(&(catalog.to_owned(), oid.to_owned())).cloned().unwrap_or_default();
        found.remove(own);
        found
    }
}

fn add(schema: &mut Schema, object: Object) {
    schema.objects.insert(object.key(), object);
}

/// A schema other than the default one, as an object the others in it need.
pub(super) fn add_schema(schema: &mut Schema, name: &str) {
    add(
        schema,
        Object {
            kind: ObjectKind::Schema,
            name: name.to_owned(),
            definition: format!("CREATE SCHEMA {};", q(name)),
            drop: format!("DROP SCHEMA {};", q(name)),
            depends_on: BTreeSet::new(),
        },
    );
}

/// What one namespace's queries share.
pub(super) struct Reader<'a> {
    db: &'a mut dyn Database,
    namespace: &'a Namespace,
    dependencies: &'a Dependencies,
    /// The default schema's name as printers qualify with it; `None` in
    /// another schema, whose qualified names stay.
    printed_as: Option<String>,
    exclude: &'a str,
}

impl Reader<'_> {
    /// Runs `query` in the namespace being read.
    fn query(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        self.db.query_text(&self.namespace.sql(query))
    }

    /// What a printer qualified with the default schema, unqualified: a
    /// revision runs in whatever schema it is given.
    fn unqualify(&self, definition: &str, before: &[&str]) -> String {
        let Some(namespace) = &self.printed_as else { return definition.to_owned() };
        let mut definition = definition.to_owned();
        for word in before {
            definition = definition.replacen(&format!("{word}{namespace}."), word, 1);
        }
        definition
    }

    /// The model's name of `local`, in the namespace being read.
    fn name(&self, local: &str) -> String {
        self.namespace.name(local)
    }
}

/// Reads every object of `namespace` into `schema`, leaving out what
/// belongs to the table `exclude` (the version table).
pub(super) fn introspect(
    db: &mut dyn Database,
    schema: &mut Schema,
    namespace: &Namespace,
    dependencies: &Dependencies,
    exclude: &str,
) -> Result<(), DbError> {
    let printed_as = if namespace.is_default() {
        let rows = db.query_text("SELECT quote_ident(current_schema())")?;
        Some(text(rows.first().map_or(&[][..], Vec::as_slice), 0))
    } else {
        None
    };
    let reader = &mut Reader { db, namespace, dependencies, printed_as, exclude };
    sequences(reader, schema)?;
    domains(reader, schema)?;
    composite_types(reader, schema)?;
    functions(reader, schema)?;
    views(reader, schema)?;
    triggers(reader, schema)?;
    policies(reader, schema)?;
    comments(reader, schema)?;
    grants(reader, schema)?;
    unmodelled(reader, schema)?;
    Ok(())
}

fn sequences(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    // Identity sequences are their column's; a sequence a column owns and
    // takes its default from is `serial`, the column's too. Any other
    // owned sequence is an object that names its owner.
    for row in reader.query(&format!(
        "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache, s.seqcycle, \
           owner.relname, owner.attname \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN LATERAL (SELECT t.relname, a.attname, pg_get_expr(ad.adbin, ad.adrelid) AS fills FROM pg_depend d \
             JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             LEFT JOIN pg_attrdef ad ON ad.adrelid = d.refobjid AND ad.adnum = d.refobjsubid \
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass \
             AND d.deptype = 'a' LIMIT 1) owner ON true \
         WHERE n.nspname = current_schema() AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') \
           AND NOT coalesce(owner.fills LIKE 'nextval(%', false)",
        not_from_extension("pg_class", "c.oid")
    ))? {
        let name = reader.name(&text(&row, 0));
        let cycle = if text(&row, 7) == "t" { "CYCLE" } else { "NO CYCLE" };
        let mut definition = format!(
            "CREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {cycle};",
            q(&name),
            text(&row, 1),
            text(&row, 2),
            text(&row, 3),
            text(&row, 4),
            text(&row, 5),
            text(&row, 6)
        );
        let mut depends_on = BTreeSet::new();
        if let (Some(Some(table)), Some(Some(column))) = (row.get(8), row.get(9)) {
            let table = reader.name(table);
            definition.push_str(&format!("\nALTER SEQUENCE {} OWNED BY {}.{};", q(&name), q(&table), q(column)));
            depends_on.insert(table_key(&table));
        }
        add(
            schema,
            Object { kind: ObjectKind::Sequence, definition, drop: format!("DROP SEQUENCE {};", q(&name)), depends_on, name },
        );
    }
    Ok(())
}

fn domains(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(&format!(
        "SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault, \
           (SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.conname) \
            FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), \
           CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) \
             THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = t.typcollation) ELSE '' END, \
           (SELECT {} FROM pg_type b JOIN pg_namespace bn ON bn.oid = b.typnamespace \
            WHERE b.oid = t.typbasetype AND b.typtype = 'd' AND bn.nspname = current_schema()) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype = 'd' AND n.nspname = current_schema() AND {}",
        model_name("bn.nspname", "b.typname"),
        not_from_extension("pg_type", "t.oid")
    ))? {
        let name = reader.name(&text(&row, 0));
        let default = row.get(3).cloned().flatten().map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
        let not_null = if text(&row, 2) == "t" { " NOT NULL" } else { "" };
        // CREATE DOMAIN checks its values anyway; NOT VALID is for ALTER DOMAIN.
        let constraints = text(&row, 4).replace(" NOT VALID", "");
        let depends_on = row.get(6).cloned().flatten().map(|base| format!("domain {base}")).into_iter().collect();
        add(
            schema,
            Object {
                kind: ObjectKind::Domain,
                definition: format!(
                    "CREATE DOMAIN {} AS {}{}{default}{not_null}{constraints};",
                    q(&name),
                    text(&row, 1),
                    text(&row, 5)
                ),
                drop: format!("DROP DOMAIN {};", q(&name)),
                depends_on,
                name,
            },
        );
    }
    Ok(())
}

fn composite_types(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(&format!(
        "SELECT t.typname, string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) \
           || CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT ty.typcollation FROM pg_type ty WHERE ty.oid = a.atttypid) \
              THEN ' COLLATE ' || (SELECT quote_ident(collname) FROM pg_collation WHERE oid = a.attcollation) ELSE '' END, \
           ', ' ORDER BY a.attnum) \
         FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c' JOIN pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE n.nspname = current_schema() AND {} GROUP BY t.typname",
        not_from_extension("pg_type", "t.oid")
    ))? {
        let name = reader.name(&text(&row, 0));
        add(
            schema,
            Object {
                kind: ObjectKind::CompositeType,
                definition: format!("CREATE TYPE {} AS ({});", q(&name), text(&row, 1)),
                drop: format!("DROP TYPE {};", q(&name)),
                depends_on: BTreeSet::new(),
                name,
            },
        );
    }
    Ok(())
}

fn functions(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(&format!(
        "SELECT p.oid::text, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind, pg_get_functiondef(p.oid) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p') AND {}",
        not_from_extension("pg_proc", "p.oid")
    ))? {
        let (oid, name, arguments) = (text(&row, 0), reader.name(&text(&row, 1)), text(&row, 2));
        let (kind, word) = match text(&row, 3).as_str() {
            "p" => (ObjectKind::Procedure, "PROCEDURE"),
            _ => (ObjectKind::Function, "FUNCTION"),
        };
        let definition = reader.unqualify(&text(&row, 4), &[&format!("CREATE OR REPLACE {word} ")]);
        let object = Object {
            kind,
            name: format!("{name}({arguments})"),
            definition: format!("{};", definition.trim_end()),
            drop: format!("DROP {word} {}({arguments});", q(&name)),
            depends_on: BTreeSet::new(),
        };
        let depends_on = reader.dependencies.of("pg_proc", &oid, &object.key());
        add(schema, Object { depends_on, ..object });
    }
    Ok(())
}

fn views(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(&format!(
        "SELECT c.relname, c.relkind, pg_get_viewdef(c.oid, true), array_to_string(c.reloptions, ', '), \
           (SELECT r.oid::text FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND n.nspname = current_schema() AND {}",
        not_from_extension("pg_class", "c.oid")
    ))? {
        let name = reader.name(&text(&row, 0));
        let (kind, word) = match text(&row, 1).as_str() {
            "m" => (ObjectKind::MaterializedView, "MATERIALIZED VIEW"),
            _ => (ObjectKind::View, "VIEW"),
        };
        let options = text(&row, 3);
        let options = if options.is_empty() { String::new() } else { format!(" WITH ({options})") };
        let body = text(&row, 2);
        let body = body.trim_end().trim_end_matches(';');
        let object = Object {
            kind,
            definition: format!("CREATE {word} {}{options} AS\n{body};", q(&name)),
            drop: format!("DROP {word} {};", q(&name)),
            depends_on: BTreeSet::new(),
            name,
        };
        let depends_on = reader.dependencies.of("pg_rewrite", &text(&row, 4), &object.key());
        add(schema, Object { depends_on, ..object });
    }
    // Indexes on materialized views (those on tables are the tables').
    for row in reader.query(
        "SELECT i.relname, c.relname, pg_get_indexdef(ix.indexrelid) FROM pg_index ix \
         JOIN pg_class c ON c.oid = ix.indrelid AND c.relkind = 'm' JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()",
    )? {
        let name = reader.name(&text(&row, 0));
        add(
            schema,
            Object {
                kind: ObjectKind::Index,
                definition: format!("{};", reader.unqualify(&text(&row, 2), &[" ON "])),
                drop: format!("DROP INDEX {};", q(&name)),
                depends_on: [format!("materialized view {}", reader.name(&text(&row, 1)))].into(),
                name,
            },
        );
    }
    Ok(())
}

/// The key of a relation that other objects hang on.
fn relation_key(relkind: &str, name: &str) -> String {
    match relkind {
        "v" => format!("view {name}"),
        "m" => format!("materialized view {name}"),
        _ => table_key(name),
    }
}

fn triggers(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(
        "SELECT t.oid::text, t.tgname, c.relname, c.relkind, pg_get_triggerdef(t.oid), t.tgenabled \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgparentid = 0",
    )? {
        let (oid, name, table) = (text(&row, 0), text(&row, 1), reader.name(&text(&row, 2)));
        if super::super::is_bookkeeping(&table, reader.exclude) {
            continue;
        }
        let mut definition =
            format!("{};", reader.unqualify(&text(&row, 4), &[" ON ", "EXECUTE FUNCTION ", "EXECUTE PROCEDURE "]));
        if text(&row, 5) == "D" {
            definition.push_str(&format!("\nALTER TABLE {} DISABLE TRIGGER {};", q(&table), q(&name)));
        }
        let object = Object {
            kind: ObjectKind::Trigger,
            definition,
            drop: format!("DROP TRIGGER {} ON {};", q(&name), q(&table)),
            depends_on: BTreeSet::new(),
            name: format!("{name} on {table}"),
        };
        let mut depends_on = reader.dependencies.of("pg_trigger", &oid, &object.key());
        depends_on.insert(relation_key(&text(&row, 3), &table));
        add(schema, Object { depends_on, ..object });
    }
    Ok(())
}

fn policies(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity)",
    )? {
        let table = reader.name(&text(&row, 0));
        if super::super::is_bookkeeping(&table, reader.exclude) {
            continue;
        }
        let (mut definition, mut drop) = (Vec::new(), Vec::new());
        if text(&row, 1) == "t" {
            definition.push(format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY;", q(&table)));
            drop.push(format!("ALTER TABLE {} DISABLE ROW LEVEL SECURITY;", q(&table)));
        }
        if text(&row, 2) == "t" {
            definition.push(format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY;", q(&table)));
            drop.push(format!("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY;", q(&table)));
        }
        add(
            schema,
            Object {
                kind: ObjectKind::RowSecurity,
                definition: definition.join("\n"),
                drop: drop.join("\n"),
                depends_on: [table_key(&table)].into(),
                name: table,
            },
        );
    }
    for row in reader.query(
        "SELECT pol.oid::text, pol.polname, c.relname, pol.polpermissive, pol.polcmd, \
           CASE WHEN pol.polroles = '{0}' THEN 'PUBLIC' ELSE (SELECT string_agg(quote_ident(rolname), ', ' ORDER BY rolname) \
             FROM pg_roles WHERE oid = ANY (pol.polroles)) END, \
           pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid) \
         FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema()",
    )? {
        let (oid, name, table) = (text(&row, 0), text(&row, 1), reader.name(&text(&row, 2)));
        if super::super::is_bookkeeping(&table, reader.exclude) {
            continue;
        }
        let permissive = if text(&row, 3) == "t" { "PERMISSIVE" } else { "RESTRICTIVE" };
        let command = match text(&row, 4).as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let using = row.get(6).cloned().flatten().map(|e| format!(" USING ({e})")).unwrap_or_default();
        let check = row.get(7).cloned().flatten().map(|e| format!(" WITH CHECK ({e})")).unwrap_or_default();
        let object = Object {
            kind: ObjectKind::Policy,
            definition: format!(
                "CREATE POLICY {} ON {} AS {permissive} FOR {command} TO {}{using}{check};",
                q(&name),
                q(&table),
                text(&row, 5)
            ),
            drop: format!("DROP POLICY {} ON {};", q(&name), q(&table)),
            depends_on: BTreeSet::new(),
            name: format!("{name} on {table}"),
        };
        let mut depends_on = reader.dependencies.of("pg_policy", &oid, &object.key());
        depends_on.insert(table_key(&table));
        add(schema, Object { depends_on, ..object });
    }
    Ok(())
}

/// The SQL of the key of the relation `c` (in namespace `n`) that a
/// comment or grant hangs on: a sequence a column owns (`serial`) comes and
/// goes with the column's table (always in the sequence's schema).
fn relation_key_sql() -> String {
    format!(
        "COALESCE((SELECT 'table ' || {} FROM pg_depend od JOIN pg_class t ON t.oid = od.refobjid \
           WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid AND od.refclassid = 'pg_class'::regclass \
             AND od.deptype IN ('a', 'i') LIMIT 1), \
         CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' WHEN 'c' THEN 'type ' \
           WHEN 'i' THEN 'index ' WHEN 'I' THEN 'index ' ELSE 'table ' END || {})",
        model_name("n.nspname", "t.relname"),
        model_name("n.nspname", "c.relname")
    )
}

/// [`model_name`], quoted where SQL needs it (`quote_ident` in the default schema).
fn quoted_name(namespace: &str, local: &str) -> String {
    model_name(namespace, local).replacen(&format!("THEN {local}"), &format!("THEN quote_ident({local})"), 1)
}

fn comments(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    let mut found: Vec<(String, String, String)> = Vec::new(); // (target, depends on, text)
    for row in reader.query(&format!(
        "SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' \
           WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' WHEN 'c' THEN 'TYPE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, \
           c.relname, (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = d.objsubid), d.description, \
           CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT CASE t.relkind WHEN 'm' THEN 'index ' || {} ELSE 'table ' || {} END \
             FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid WHERE ix.indexrelid = c.oid) ELSE {} END, \
           CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT t.relname FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
             WHERE ix.indexrelid = c.oid) ELSE c.relname END \
         FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()",
        model_name("n.nspname", "c.relname"),
        model_name("n.nspname", "t.relname"),
        relation_key_sql()
    ))? {
        if super::super::is_bookkeeping(&text(&row, 5), reader.exclude) {
            continue;
        }
        let relation = q(&reader.name(&text(&row, 1)));
        let target = match row.get(2).cloned().flatten() {
            Some(column) => format!("COLUMN {relation}.{}", q(&column)),
            None => format!("{} {relation}", text(&row, 0)),
        };
        found.push((target, text(&row, 4), text(&row, 3)));
    }
    for row in reader.query(
        "SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.proname, \
           pg_get_function_identity_arguments(p.oid), d.description, CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END \
         FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid \
         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')",
    )? {
        let (name, arguments) = (reader.name(&text(&row, 1)), text(&row, 2));
        let target = format!("{} {}({arguments})", text(&row, 0), q(&name));
        found.push((target, format!("{}{name}({arguments})", text(&row, 4)), text(&row, 3)));
    }
    for row in reader.query(
        "SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname, d.description, \
           CASE t.typtype WHEN 'd' THEN 'domain ' WHEN 'e' THEN 'enum ' ELSE 'type ' END \
         FROM pg_description d JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid \
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema()",
    )? {
        let name = reader.name(&text(&row, 1));
        found.push((format!("{} {}", text(&row, 0), q(&name)), format!("{}{name}", text(&row, 3)), text(&row, 2)));
    }
    for row in reader.query(
        "SELECT con.conname, c.relname, d.description FROM pg_description d \
         JOIN pg_constraint con ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid \
         JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()",
    )? {
        let table = reader.name(&text(&row, 1));
        if super::super::is_bookkeeping(&table, reader.exclude) {
            continue;
        }
        found.push((format!("CONSTRAINT {} ON {}", q(&text(&row, 0)), q(&table)), table_key(&table), text(&row, 2)));
    }
    for row in reader.query(
        "SELECT t.tgname, c.relname, d.description FROM pg_description d \
         JOIN pg_trigger t ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid \
         JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()",
    )? {
        let (trigger, table) = (text(&row, 0), reader.name(&text(&row, 1)));
        let target = format!("TRIGGER {} ON {}", q(&trigger), q(&table));
        found.push((target, format!("trigger {trigger} on {table}"), text(&row, 2)));
    }
    for (target, depends_on, comment) in found {
        add(
            schema,
            Object {
                kind: ObjectKind::Comment,
                definition: format!("COMMENT ON {target} IS {};", literal(&comment)),
                drop: format!("COMMENT ON {target} IS NULL;"),
                depends_on: [depends_on].into(),
                name: format!("on {target}"),
            },
        );
    }
    Ok(())
}

fn grants(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    // (on, to, with grant option) -> (privileges, depends on)
    let mut granted: BTreeMap<(String, String, bool), (Vec<String>, String)> = BTreeMap::new();
    let grantee = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END";
    for row in reader.query(&format!(
        "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || {}, {grantee}, \
           a.is_grantable, a.privilege_type, {}, c.relname \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a \
         WHERE c.relacl IS NOT NULL AND a.grantee <> c.relowner AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
           AND n.nspname = current_schema()",
        quoted_name("n.nspname", "c.relname"),
        relation_key_sql()
    ))? {
        if super::super::is_bookkeeping(&text(&row, 5), reader.exclude) {
            continue;
        }
        let entry = granted.entry((text(&row, 0), text(&row, 1), text(&row, 2) == "t")).or_default();
        entry.0.push(text(&row, 3));
        entry.1 = text(&row, 4);
    }
    // Functions: what differs from the default (EXECUTE to PUBLIC).
    let mut revoked: BTreeMap<(String, String), (Vec<String>, String)> = BTreeMap::new();
    for row in reader.query(&format!(
        "SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || {quoted} || '(' \
           || pg_get_function_identity_arguments(p.oid) || ')', {grantee}, a.is_grantable, a.privilege_type, \
           CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || {model} || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
           'granted' \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a \
         WHERE p.proacl IS NOT NULL AND a.grantee <> p.proowner AND n.nspname = current_schema() AND p.prokind IN ('f', 'p') \
           AND NOT EXISTS (SELECT 1 FROM aclexplode(acldefault('f', p.proowner)) x WHERE x.grantee = a.grantee AND x.privilege_type = a.privilege_type) \
         UNION ALL \
         SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || {quoted} || '(' \
           || pg_get_function_identity_arguments(p.oid) || ')', {grantee}, a.is_grantable, a.privilege_type, \
           CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || {model} || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
           'revoked' \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(acldefault('f', p.proowner)) a \
         WHERE p.proacl IS NOT NULL AND a.grantee <> p.proowner AND n.nspname = current_schema() AND p.prokind IN ('f', 'p') \
           AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) x WHERE x.grantee = a.grantee AND x.privilege_type = a.privilege_type)",
        quoted = quoted_name("n.nspname", "p.proname"),
        model = model_name("n.nspname", "p.proname"),
    ))? {
        if text(&row, 5) == "revoked" {
            let entry = revoked.entry((text(&row, 0), text(&row, 1))).or_default();
            entry.0.push(text(&row, 3));
            entry.1 = text(&row, 4);
        } else {
            let entry = granted.entry((text(&row, 0), text(&row, 1), text(&row, 2) == "t")).or_default();
            entry.0.push(text(&row, 3));
            entry.1 = text(&row, 4);
        }
    }
    for ((on, to, grant_option), (mut privileges, depends_on)) in granted {
        privileges.sort();
        let option = if grant_option { " WITH GRANT OPTION" } else { "" };
        add(
            schema,
            Object {
                kind: ObjectKind::Grant,
                name: format!("on {} to {to}{}", on.to_lowercase(), option.to_lowercase()),
                definition: format!("GRANT {} ON {on} TO {to}{option};", privileges.join(", ")),
                drop: format!("REVOKE {} ON {on} FROM {to};", privileges.join(", ")),
                depends_on: [depends_on].into(),
            },
        );
    }
    for ((on, from), (mut privileges, depends_on)) in revoked {
        privileges.sort();
        add(
            schema,
            Object {
                kind: ObjectKind::Grant,
                name: format!("on {} revoked from {from}", on.to_lowercase()),
                definition: format!("REVOKE {} ON {on} FROM {from};", privileges.join(", ")),
                drop: format!("GRANT {} ON {on} TO {from};", privileges.join(", ")),
                depends_on: [depends_on].into(),
            },
        );
    }
    Ok(())
}

/// What autogenerate cannot write, by kind and name.
fn unmodelled(reader: &mut Reader<'_>, schema: &mut Schema) -> Result<(), DbError> {
    for row in reader.query(&format!(
        "SELECT CASE p.prokind WHEN 'a' THEN 'aggregate ' ELSE 'window function ' END || p.proname || '(' \
           || pg_get_function_identity_arguments(p.oid) || ')' \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = current_schema() AND p.prokind IN ('a', 'w') AND {} \
         UNION ALL \
         SELECT 'rule ' || r.rulename || ' on ' || c.relname FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND r.rulename <> '_RETURN' \
         UNION ALL \
         SELECT 'operator ' || o.oprname || '(' || format_type(o.oprleft, NULL) || ', ' || format_type(o.oprright, NULL) || ')' \
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE n.nspname = current_schema() AND {} \
         UNION ALL \
         SELECT 'foreign table ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'f' \
         UNION ALL \
         SELECT 'collation ' || c.collname FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace \
         WHERE n.nspname = current_schema() AND {} \
         UNION ALL \
         SELECT 'statistics ' || s.stxname FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace \
         WHERE n.nspname = current_schema() \
         UNION ALL \
         SELECT 'text search configuration ' || c.cfgname FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace \
         WHERE n.nspname = current_schema() AND {}",
        not_from_extension("pg_proc", "p.oid"),
        not_from_extension("pg_operator", "o.oid"),
        not_from_extension("pg_collation", "c.oid"),
        not_from_extension("pg_ts_config", "c.oid"),
    ))? {
        schema.unmodelled.insert(text(&row, 0));
    }
    Ok(())
}
