//! The store's schema: the migrations (`migrations/`), applied by the
//! database's owner, and the runtime role the services use, which may read
//! and write the tables but not change them.

use sqlx::postgres::PgPool;

use crate::error::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Applies the migrations the schema lacks; returns how many it applied.
/// A role that may not change the schema is told who can.
pub async fn migrate(pool: &PgPool) -> Result<usize, StoreError> {
    let before = applied_migrations(pool).await?.len();
    // On a connection of its own, closed afterwards: a migration that
    // fails can leave its session holding the migrations' advisory lock,
    // and a pooled session would keep it (and the owner's `curio db
    // migrate` waiting) for as long as the pool lives.
    let mut conn = pool.acquire().await?.detach();
    let result = MIGRATOR.run(&mut conn).await;
    let _ = sqlx::Connection::close(conn).await;
    result.map_err(|e| {
        use sqlx::migrate::MigrateError::{Execute, ExecuteMigration};
        let denied = matches!(&e, Execute(sqlx::Error::Database(db)) | ExecuteMigration(sqlx::Error::Database(db), _)
            if db.code().as_deref() == Some("42501"));
        if denied {
            StoreError::Migration(format!(
                "{e}: this role may not change the schema, and the schema is behind this version of Curio. \
                 Run `curio db migrate` as the database's owner (DATABASE_URL set to the owner's URL), \
                 with `--grant ROLE` to let this role read and write the new tables"
            ))
        } else {
            StoreError::Migration(e.to_string())
        }
    })?;
    Ok(applied_migrations(pool).await?.len().saturating_sub(before))
}

/// Lets `role` read and write every table of the store (and the tables
/// later migrations make) but not change the schema: the role the
/// services run as, apart from the owner that migrates.
pub async fn grant_runtime_role(pool: &PgPool, role: &str) -> Result<(), StoreError> {
    let valid = !role.is_empty()
        && role.len() <= 63
        && role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !role.as_bytes()[0].is_ascii_digit();
    if !valid {
        return Err(StoreError::Invalid(format!(
            "role name {role:?}: use lowercase letters, digits and _ (at most 63, not starting with a digit)"
        )));
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Err(StoreError::Invalid(format!(
            "role {role} does not exist: create it first (CREATE ROLE {role} LOGIN PASSWORD '...'; on \
             CloudNativePG, under the Cluster's spec.managed.roles)"
        )));
    }
    let statements = [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}"),
    ];
    let mut tx = pool.begin().await?;
    for sql in &statements {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether every migration this build knows is applied, with its checksum.
pub(crate) async fn schema_is_current(pool: &PgPool) -> Result<bool, StoreError> {
    let applied = applied_migrations(pool).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| applied.iter().any(|(v, c)| *v == m.version && c.as_slice() == &*m.checksum)))
}

async fn applied_migrations(pool: &PgPool) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
    if !exists {
        return Ok(vec![]);
    }
    Ok(sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success").fetch_all(pool).await?)
}
