{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['person_id', 'snapshot_date']}, {'columns': ['snapshot_date']}],
        pre_hook=[
            "{% if is_incremental() %}delete from {{ this }} where snapshot_date = (select max(extract_date) from {{ ref('int_batches__accepted') }} where source_name = 'enrolment'){% endif %}",
        ],
    )
}}
-- depends_on: {{ ref('int_enrolment__rows_to_classify') }}
-- depends_on: {{ ref('int_enrolment__changed') }}
-- Enrolment history kept as versions: one row per person per snapshot in which the person's
-- deciding record (greatest status_date, then greatest school_code) differs from their previous
-- version. "Latest record ever seen" as of D = the person's version with the greatest
-- snapshot_date <= D's snapshot. Snapshots are not history; this table is.
--
-- Incremental: a night processes only its own snapshot (the latest accepted at or before D), and of
-- it only the persons int_enrolment__changed names, replacing that snapshot's versions (pre-hook),
-- so re-running a date is idempotent and a
-- re-delivered date followed by the later dates in order rebuilds exactly. A full refresh
-- derives every version from every snapshot at once.
--
-- The pre-hook names the snapshot by a subquery, so the planner scans the versions for it (3.3 GB at
-- national size, 5 s). With the date as a literal the index finds the rows in 47 ms, but the night's
-- later reads of the same versions, by index, then came from disk: this model 24 s instead of 1.3 s
-- in a national night whose database outgrows the page cache (docs/benchmarks.md, thirteenth session).
with

{% if is_incremental() %}

-- only the persons whose roster rows changed since the snapshot before: everyone else's deciding
-- record is the one their latest version already holds
snapshot_rows as (
    select * from {{ ref('int_enrolment__rows_to_classify') }}
    where person_id in (select person_id from {{ ref('int_enrolment__changed') }} where rows_changed)
),

{% else %}

snapshot_rows as (
    select b.extract_date as snapshot_date, r.*
    from {{ ref('stg_enrolment__roster') }} as r
    inner join {{ ref('int_batches__accepted') }} as b
        on b.batch_id = r.batch_id and b.source_name = 'enrolment'
    where r.person_id is not null
),

{% endif %}

deciding as (
    select distinct on (person_id, snapshot_date)
        person_id, snapshot_date, id_type, school_code, school_name, affiliation, grade, status,
        status_date, disability, sex, birth_date, home_subdistrict_code, school_subdistrict_code,
        first_name, last_name,
        md5(concat_ws('|', school_code, school_name, affiliation, grade, status, status_date, disability, sex,
                      birth_date, home_subdistrict_code, school_subdistrict_code, first_name, last_name))
            as content_hash
    from snapshot_rows
    order by person_id, snapshot_date, status_date desc nulls last, school_code desc
),

{% if is_incremental() %}

previous as (
    select distinct on (v.person_id) v.person_id, v.content_hash
    from {{ this }} as v
    inner join deciding as d on d.person_id = v.person_id
    where v.snapshot_date < d.snapshot_date
    order by v.person_id, v.snapshot_date desc
),

changed as (
    select d.*
    from deciding as d
    left join previous as p on p.person_id = d.person_id
    where p.content_hash is distinct from d.content_hash
)

{% else %}

changed as (
    select *
    from (
        select d.*, lag(content_hash) over (partition by person_id order by snapshot_date) as previous_hash
        from deciding as d
    ) as x
    where previous_hash is distinct from content_hash
)

{% endif %}

select
    person_id, snapshot_date, id_type, school_code, school_name, affiliation, grade, status, status_date,
    disability, sex, birth_date, home_subdistrict_code, school_subdistrict_code, first_name, last_name,
    content_hash
from changed
