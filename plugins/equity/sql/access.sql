-- Access control (PDPA): roles, least-privilege grants, the identified layer's row-level security
-- and its audited read path, the access and purge logs. docs/security.md explains the model.
--
-- Idempotent: equity.access.apply_access runs it (after bootstrap) as the warehouse owner, under a
-- per-database advisory lock. Roles are cluster-wide, grants are per database: the roles are created
-- only if missing (and a concurrent creation from another database is tolerated); everything else
-- is granted in the current database.

-- ------------------------------------------------------------------------------------------------
-- 1. Group roles (NOLOGIN). People and services log in as their own roles, made members of these.
--    equity_identified_access owns the audited read function (not a superuser, no BYPASSRLS, so
--    row-level security still applies inside it).
-- ------------------------------------------------------------------------------------------------
do $roles$
declare
    r text;
begin
    foreach r in array array['equity_loader', 'equity_transformer', 'bi_reader', 'lao_officer',
                             'equity_auditor', 'equity_identified_access'] loop
        if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;  -- created meanwhile by a session in another database
            end;
        end if;
    end loop;
end
$roles$;

-- ------------------------------------------------------------------------------------------------
-- 2. Schemas (dbt creates its own too; creating them here lets the grants exist before the first
--    build) and PUBLIC's defaults that would leak.
-- ------------------------------------------------------------------------------------------------
create schema if not exists raw;
create schema if not exists quarantine;
create schema if not exists audit;
create schema if not exists reference;
create schema if not exists util;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts_build;
create schema if not exists marts;
create schema if not exists identified;

do $db$
begin
    -- Nobody connects or creates temporary tables just because they have a login.
    execute format('revoke all on database %I from public', current_database());
    execute format('grant connect on database %I to equity_loader, equity_transformer, bi_reader,'
                   ' lao_officer, equity_auditor', current_database());
    execute format('grant temporary on database %I to equity_loader, equity_transformer',
                   current_database());
    -- dbt issues `create schema if not exists` for its layers.
    execute format('grant create on database %I to equity_transformer', current_database());
end
$db$;

revoke all on schema public from public;
-- Functions are executable by PUBLIC by default: not ours.
alter default privileges revoke execute on functions from public;
revoke all on all functions in schema util from public;
do $defs$
begin
    -- the same default for objects the transformer role creates, when we may say so for it
    if pg_catalog.pg_has_role(current_user, 'equity_transformer', 'MEMBER') then
        alter default privileges for role equity_transformer revoke execute on functions from public;
    end if;
end
$defs$;

-- ------------------------------------------------------------------------------------------------
-- 3. Audit tables of this layer: who read identified rows, what the retention purge removed.
-- ------------------------------------------------------------------------------------------------
create table if not exists audit.access_log (
    access_id      bigserial primary key,
    accessed_at    timestamptz not null default clock_timestamp(),
    who            text not null,           -- session_user: the login that asked
    lao_code       text,
    as_of_date     date,
    rows_returned  bigint not null,
    granted        boolean not null,        -- false: the login is not assigned to this LAO
    client_addr    inet,
    application    text,
    via            text not null            -- the function that served the read
);
create index if not exists access_log_who_when on audit.access_log (who, accessed_at);

create table if not exists audit.purges (
    purge_id        bigserial primary key,
    run_id          text,
    purged_at       timestamptz not null default clock_timestamp(),
    purged_by       text not null default session_user,
    retention_days  int not null,
    cutoff_date     date not null,
    target          text not null,          -- schema.table
    rule            text not null,
    rows_deleted    bigint not null,
    batch_ids       bigint[]                -- the load batches the deleted rows came from
);

-- ------------------------------------------------------------------------------------------------
-- 4. Least privilege, per schema (ARCHITECTURE.md "Access (PDPA)").
-- ------------------------------------------------------------------------------------------------
-- loader: raw, quarantine, reference, its audit tables
grant usage on schema raw, quarantine, reference, audit, util to equity_loader;
grant select, insert, update, delete on all tables in schema raw, quarantine, reference to equity_loader;
grant select, insert, update on audit.load_batches, audit.validation_results, audit.pipeline_runs,
    audit.purges to equity_loader;
grant usage on all sequences in schema audit to equity_loader;
grant execute on all functions in schema util to equity_loader;
alter default privileges in schema raw, quarantine grant select, insert, update, delete on tables to equity_loader;

-- transformer (dbt, publish): reads raw, reference and the batch record; builds the dbt layers
grant usage on schema raw, reference, audit, util to equity_transformer;
grant select on all tables in schema raw, reference to equity_transformer;
grant select on audit.load_batches to equity_transformer;
grant select, update on audit.pipeline_runs to equity_transformer;
grant execute on all functions in schema util to equity_transformer;
grant usage, create on schema staging, intermediate, marts_build, marts, identified to equity_transformer;
alter default privileges in schema raw grant select on tables to equity_transformer;

-- bi_reader: the published marts, including tables created later (publish.py: CREATE TABLE ... LIKE
-- runs as the pipeline's role, whose defaults below apply; LIKE copies no grants)
grant usage on schema marts to bi_reader;
grant select on all tables in schema marts to bi_reader;
alter default privileges in schema marts grant select on tables to bi_reader;

-- auditor: the audit schema, read-only
grant usage on schema audit to equity_auditor;
grant select on all tables in schema audit to equity_auditor;
alter default privileges in schema audit grant select on tables to equity_auditor;

do $defs$
begin
    if pg_catalog.pg_has_role(current_user, 'equity_transformer', 'MEMBER') then
        alter default privileges for role equity_transformer in schema marts
            grant select on tables to bi_reader;
    end if;
    if pg_catalog.pg_has_role(current_user, 'equity_loader', 'MEMBER') then
        alter default privileges for role equity_loader in schema audit
            grant select on tables to equity_auditor;
    end if;
end
$defs$;

-- ------------------------------------------------------------------------------------------------
-- 5. The identified layer: officer -> LAO mapping, row-level security, the audited read path.
-- ------------------------------------------------------------------------------------------------
-- officer_role: a login role (or a group of logins) that is a member of lao_officer.
create table if not exists identified.officer_laos (
    officer_role  text not null,
    lao_code      text not null,
    granted_at    timestamptz not null default now(),
    granted_by    text not null default session_user,
    primary key (officer_role, lao_code)
);
revoke all on identified.officer_laos from public;

-- Officers: the schema (to name the function) and the function. No table privilege at all.
grant usage on schema identified to lao_officer;
grant usage on schema identified, audit to equity_identified_access;
-- the list's view reads the reference's LAO and subdistrict names through two staging views
-- (granted with the list, identified.secure_priority_children(): dbt re-creates views)
grant usage on schema staging to equity_identified_access;
grant select on identified.officer_laos to equity_identified_access;
grant insert on audit.access_log to equity_identified_access;
grant usage on sequence audit.access_log_access_id_seq to equity_identified_access;

-- Row-level security on the list dbt builds (models/identified/priority_children_versions.sql and the
-- view priority_children call this in their post-hooks, so a rebuilt table is never left open). An
-- invoker function: run by the tables' owner. No FORCE: the owner is dbt's role, whose incremental
-- writes must see every row; the owner never reads for officers, equity_identified_access (not the
-- owner) does, through the view, which is security_invoker: the policy applies to its reader.
create or replace function identified.secure_priority_children() returns void
language plpgsql set search_path = pg_catalog, pg_temp as $fn$
begin
    if to_regclass('identified.priority_children_versions') is null then
        return;
    end if;
    alter table identified.priority_children_versions enable row level security;
    drop policy if exists officer_own_laos on identified.priority_children_versions;
    -- A row is visible to a login only for the LAOs mapped to it (or to a role it belongs to).
    -- session_user, not current_user: inside the SECURITY DEFINER read function current_user is
    -- the function's owner, session_user is still the officer who logged in.
    create policy officer_own_laos on identified.priority_children_versions for select using (
        exists (
            select 1
            from identified.officer_laos as m
            join pg_catalog.pg_roles as r on r.rolname = m.officer_role
            where m.lao_code = priority_children_versions.lao_code
              and pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')
        )
    );
    revoke all on identified.priority_children_versions from public;
    grant select on identified.priority_children_versions to equity_identified_access;
    if to_regclass('identified.priority_children_versions__nights') is not null then
        revoke all on identified.priority_children_versions__nights from public;
        grant select on identified.priority_children_versions__nights to equity_identified_access;
    end if;
    -- the view reads the reference's names through the staging views (no personal data)
    if to_regclass('identified.priority_children') is not null then
        revoke all on identified.priority_children from public;
        grant select on identified.priority_children to equity_identified_access;
        grant select on staging.stg_reference__laos, staging.stg_reference__subdistricts
            to equity_identified_access;
    end if;
end
$fn$;
revoke all on function identified.secure_priority_children() from public;
grant execute on function identified.secure_priority_children() to equity_transformer;
select identified.secure_priority_children();

-- The only way to read identified rows: checks the mapping, returns the LAO's priority children of
-- one as_of_date (default: the latest night the list was built), and writes who/when/which LAO/how many rows to
-- audit.access_log in the same transaction, plus a server-log line (LOG level; survives a rollback
-- of the caller's transaction). A request for an LAO the login is not assigned to returns no rows
-- and is logged with granted = false.
create or replace function identified.priority_children_for(p_lao_code text, p_as_of date default null)
returns table (
    as_of_date date, lao_code text, lao_name text, person_id text, id_type text,
    first_name text, last_name text, sex text, age int, birth_year int,
    house_id text, subdistrict_code text, subdistrict_name text,
    school_code text, school_name text, grade text,
    education_status text, out_of_school_reason text, poverty_level text,
    chronic_absence boolean, days_absent int, reasons text[]
)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $fn$
#variable_conflict use_column
declare
    v_allowed boolean;
    v_as_of date := p_as_of;
    v_rows bigint := 0;
begin
    if p_lao_code is null then
        raise exception using errcode = '22004', message = 'lao_code is required';
    end if;
    v_allowed := exists (
        select 1
        from identified.officer_laos as m
        join pg_catalog.pg_roles as r on r.rolname = m.officer_role
        where m.lao_code = p_lao_code
          and pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')
    );
    if v_allowed then
        if v_as_of is null then
            select max(n.as_of_date) into v_as_of from identified.priority_children_versions__nights as n;
        end if;
        return query
            select t.as_of_date, t.lao_code, t.lao_name, t.person_id, t.id_type,
                   t.first_name, t.last_name, t.sex, t.age, t.birth_year,
                   t.house_id, t.subdistrict_code, t.subdistrict_name,
                   t.school_code, t.school_name, t.grade,
                   t.education_status, t.out_of_school_reason, t.poverty_level,
                   t.chronic_absence, t.days_absent, t.reasons
            from identified.priority_children as t
            where t.lao_code = p_lao_code and t.as_of_date = v_as_of
            order by t.subdistrict_code, t.house_id, t.person_id;
        get diagnostics v_rows = row_count;
    else
        raise warning 'login % is not assigned to LAO %: no rows', session_user, p_lao_code;
    end if;
    insert into audit.access_log (who, lao_code, as_of_date, rows_returned, granted, client_addr,
                                  application, via)
    values (session_user, p_lao_code, v_as_of, v_rows, v_allowed, inet_client_addr(),
            current_setting('application_name', true), 'identified.priority_children_for');
    raise log 'equity identified access: who=% lao=% as_of=% rows=% granted=%',
        session_user, p_lao_code, v_as_of, v_rows, v_allowed;
    return;
end
$fn$;
alter function identified.priority_children_for(text, date) owner to equity_identified_access;
revoke all on function identified.priority_children_for(text, date) from public;
grant execute on function identified.priority_children_for(text, date) to lao_officer;
