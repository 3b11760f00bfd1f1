-- Warehouse schemas and the tables owned by the loader and the gates (dbt owns the rest).
-- Idempotent: run at the start of every night.
create schema if not exists raw;
create schema if not exists quarantine;
create schema if not exists audit;
create schema if not exists reference;

-- One row per delivery file set loaded (or refused) for (source, extract_date, revision).
create table if not exists audit.load_batches (
    batch_id        bigserial primary key,
    source          text not null,
    extract_date    date not null,
    revision        int,
    mode            text,
    run_id          text,
    status          text not null,   -- loading | loaded | refused | superseded
    gate_status     text,            -- passed | warned | blocked (null until gated)
    files           jsonb,
    rows_manifest   bigint,
    rows_loaded     bigint,
    rows_rejected   bigint,
    message         text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);
create index if not exists load_batches_source_date on audit.load_batches (source, extract_date);
-- What every row of the batch passed (equity.gates.gate_basis): a fingerprint of the source's row suite
-- and the reference data it reads, set when no row entry failed, else null. A later snapshot judges
-- only the rows that differ from such a batch's.
alter table audit.load_batches add column if not exists gate_basis text;
-- The earlier batch this snapshot's changed persons were stored against (raw.enrolment_roster_changes).
alter table audit.load_batches add column if not exists changes_against bigint;

create table if not exists audit.validation_results (
    result_id        bigserial primary key,
    run_id           text,
    batch_id         bigint,
    suite            text not null,
    expectation      text not null,
    column_name      text,
    severity         text not null,   -- block | warn
    success          boolean not null,
    observed_value   text,            -- aggregates only: never a personal value
    unexpected_count bigint,
    element_count    bigint,
    evaluated_at     timestamptz not null default now()
);
-- The earlier batch whose rows stood for this batch's unchanged rows (their verdict carried over,
-- equity.gates): element_count then counts the rows judged, not the batch. Null: every row judged.
alter table audit.validation_results add column if not exists judged_against bigint;

create table if not exists audit.pipeline_runs (
    run_id        text primary key,
    as_of_date    date not null,
    status        text not null,    -- running | success | degraded | failed
    revisions     jsonb,
    policy        jsonb,
    code_version  text,
    counts        jsonb,
    gates         jsonb,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz
);
-- seconds per step of the night (start, load:<source>, gate:<source>, transform, gate_marts, publish)
alter table audit.pipeline_runs add column if not exists timings jsonb not null default '{}'::jsonb;
-- seconds per dbt node of the night's build ({"model.equity.child_equity_profile": 12.3, ...})
alter table audit.pipeline_runs add column if not exists dbt_seconds jsonb;

-- raw: as delivered, every value text, tagged with batch, file and line.
-- LIST-partitioned by _batch_id: the loader COPYs each batch into a table of its own, checks it and
-- attaches it as the batch's partition; replacing a date's batch drops the old partition (no DELETE,
-- no index to maintain). Readers (dbt sources, GX gates on one _batch_id) see one table, pruned.
-- Rows inserted by hand (tests) land in the default partition.
-- Warehouses bootstrapped before the partitioning: the plain tables are converted once, below.
do $$
declare t text;
begin
    foreach t in array array['enrolment_roster', 'welfare_screenings', 'registry_events'] loop
        if exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = 'raw' and c.relname = t and c.relkind = 'r') then
            execute format('alter table raw.%I rename to %I', t, t || '_unpartitioned');
        end if;
    end loop;
end $$;
create table if not exists raw.enrolment_roster (
    _batch_id bigint not null, _file text not null, _line int not null, _row_hash bigint,
    person_id text, school_code text, school_name text, affiliation text,
    school_subdistrict_code text, academic_year text, term text, grade text, status text,
    status_date text, first_name text, last_name text, sex text, birth_date text,
    disability text, home_subdistrict_code text, days_absent text
) partition by list (_batch_id);
create table if not exists raw.welfare_screenings (
    _batch_id bigint not null, _file text not null, _line int not null,
    screening_id text, person_id text, household_id text, screened_on text,
    household_size text, household_income_month text, caregiver text, has_welfare_card text,
    housing text, electricity text, clean_water text, farm_land text, vehicle text, action text
) partition by list (_batch_id);
create table if not exists raw.registry_events (
    _batch_id bigint not null, _file text not null, _line int not null,
    pid text, birth_date text, sex text, nationality text, house_id text,
    subdistrict_code text, lao_code text, event text, event_date text,
    mother_pid text, father_pid text
) partition by list (_batch_id);
-- The loader's hash of each snapshot row's values (equity.load.ROW_HASHED); null for rows put in by
-- other means and for batches loaded before it existed: such rows count as changed.
alter table raw.enrolment_roster add column if not exists _row_hash bigint;
create table if not exists raw.enrolment_roster_default partition of raw.enrolment_roster default;
-- The persons whose roster rows differ between a snapshot batch and the earlier one its raw gate paired
-- it with (equity.gate_changes): int_enrolment__changed reads them instead of pairing 11 M rows again
-- when that earlier batch is the snapshot before (audit.load_batches.changes_against says which).
create table if not exists raw.enrolment_roster_changes (
    _batch_id bigint not null, against_batch_id bigint not null, person_id text not null
);
create index if not exists enrolment_roster_changes_batch on raw.enrolment_roster_changes (_batch_id);
create table if not exists raw.welfare_screenings_default partition of raw.welfare_screenings default;
create table if not exists raw.registry_events_default partition of raw.registry_events default;
do $$
declare t text; b bigint; cols text;
begin
    foreach t in array array['enrolment_roster', 'welfare_screenings', 'registry_events'] loop
        if to_regclass(format('raw.%I', t || '_unpartitioned')) is not null then
            for b in execute format('select distinct _batch_id from raw.%I', t || '_unpartitioned') loop
                execute format('create table raw.%I partition of raw.%I for values in (%s)', t || '_b' || b, t, b);
            end loop;
            -- by name: the partitioned table has columns the old one lacks (_row_hash)
            select string_agg(quote_ident(attname), ', ' order by attnum) into cols from pg_attribute
            where attrelid = format('raw.%I', t || '_unpartitioned')::regclass and attnum > 0 and not attisdropped;
            execute format('insert into raw.%I (%s) select %s from raw.%I', t, cols, cols, t || '_unpartitioned');
            execute format('drop table raw.%I', t || '_unpartitioned');
        end if;
    end loop;
end $$;

-- Reference geography, reloaded each night from EQUITY_REFERENCE or the shipped set.
create table if not exists reference.subdistricts (
    subdistrict_code text primary key, subdistrict_name text, district_code text,
    district_name text, province_code text, province_name text, lao_code text
);
create table if not exists reference.laos (
    lao_code text primary key, lao_name text, lao_type text, province_code text, district_code text
);

-- Decoding and validity functions shared by the loader's row checks and dbt staging
-- (one definition of what a valid ID or a Buddhist-Era date is).
create schema if not exists util;

create or replace function util.national_id_ok(v text) returns boolean
language sql immutable parallel safe as $$
    select v ~ '^[0-8][0-9]{12}$' and (11 - (
        substr(v, 1, 1)::int * 13 + substr(v, 2, 1)::int * 12 + substr(v, 3, 1)::int * 11
        + substr(v, 4, 1)::int * 10 + substr(v, 5, 1)::int * 9 + substr(v, 6, 1)::int * 8
        + substr(v, 7, 1)::int * 7 + substr(v, 8, 1)::int * 6 + substr(v, 9, 1)::int * 5
        + substr(v, 10, 1)::int * 4 + substr(v, 11, 1)::int * 3 + substr(v, 12, 1)::int * 2
    ) % 11) % 10 = substr(v, 13, 1)::int
$$;

create or replace function util.make_date_or_null(y int, m int, d int) returns date
language sql immutable parallel safe as $$
    select case when y between 1 and 9999 and m between 1 and 12 and d >= 1
                 and d <= extract(day from (make_date(y, m, 1) + interval '1 month - 1 day'))
                then make_date(y, m, d) end
$$;

-- ISO yyyy-mm-dd
create or replace function util.iso_date(v text) returns date
language sql immutable parallel safe as $$
    select case when v ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
        util.make_date_or_null(substr(v, 1, 4)::int, substr(v, 6, 2)::int, substr(v, 9, 2)::int) end
$$;

-- Buddhist-Era dd/mm/yyyy (enrolment birth_date)
create or replace function util.be_dmy_date(v text) returns date
language sql immutable parallel safe as $$
    select case when v ~ '^[0-9]{2}/[0-9]{2}/[0-9]{4}$' then
        util.make_date_or_null(substr(v, 7, 4)::int - 543, substr(v, 4, 2)::int, substr(v, 1, 2)::int) end
$$;

-- Buddhist-Era YYYYMMDD (registry). MARTS.md "Birth date": unknown month 00 -> 1 July; known month
-- with unknown day 00 -> the 15th. The caller decides whether 00 parts are allowed.
create or replace function util.be_ymd_date(v text) returns date
language sql immutable parallel safe as $$
    select case
        when v !~ '^[0-9]{8}$' then null
        when substr(v, 5, 2) = '00' then util.make_date_or_null(substr(v, 1, 4)::int - 543, 7, 1)
        when substr(v, 7, 2) = '00' then util.make_date_or_null(substr(v, 1, 4)::int - 543, substr(v, 5, 2)::int, 15)
        else util.make_date_or_null(substr(v, 1, 4)::int - 543, substr(v, 5, 2)::int, substr(v, 7, 2)::int)
    end
$$;

-- quarantine: rows that broke the contract, with where they came from and why.
create table if not exists quarantine.enrolment_rejects (
    _batch_id bigint not null, _file text not null, _line int not null, reason text not null,
    original jsonb not null, rejected_at timestamptz not null default now()
);
create table if not exists quarantine.welfare_rejects (like quarantine.enrolment_rejects including all);
create table if not exists quarantine.registry_rejects (like quarantine.enrolment_rejects including all);
