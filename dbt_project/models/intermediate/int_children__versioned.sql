{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        meta={'analyze': 'always'},
        indexes=[
            {'columns': ['person_id', 'valid_from'], 'unique': true},
            {'columns': ['valid_from']},
            {'columns': ['valid_to']},
        ],
        pre_hook=[
            "{% if is_incremental() %}delete from {{ this }} where valid_from = {{ as_of_date() }}{% else %}drop table if exists {{ children_relation('__nights') }}{% endif %}",
        ],
        post_hook=["{{ children_versions_indexes() }}", "{{ children_versions_close() }}",
                   "{{ children_nights_record() }}"],
    )
}}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- The child-level state as versions: a row per person each night their row of child_equity_profile
-- changes (a new child, a changed value, a new key), and a closing row (present = false) the night a
-- child stops being one. A person's row as of D is their version with the greatest valid_from <= D;
-- valid_to is the next version's valid_from (post-hook). child_equity_profile spans these over the
-- nights built (macros/children_versions.sql), so a night writes its changes, not every child.
--
-- Analysed after every night (meta.analyze, macros/statistics.sql): the close and publish find the
-- night's versions by valid_from and valid_to.
--
-- Incremental: a night classifies only int_children__changed's persons and compares them with their
-- version before D; a re-run of D replaces D's versions (pre-hook), so re-running a date is
-- idempotent and a re-delivered date followed by the later dates in order rebuilds exactly.
with classified as (
    select * from {{ ref('int_children__classified') }}
),

{{ hmac_pads_cte() }},

keyed as (
    select
        c.person_id,
        {{ child_key('c.person_id') }}::text as child_key,
        c.id_type::text as id_type,
        c.sex::text as sex,
        c.birth_year::int as birth_year,
        c.age::int as age,
        c.province_code::text as province_code,
        c.district_code::text as district_code,
        c.subdistrict_code::text as subdistrict_code,
        c.lao_code::text as lao_code,
        c.in_registry::boolean as in_registry,
        c.in_enrolment::boolean as in_enrolment,
        c.in_welfare::boolean as in_welfare,
        c.education_status::text as education_status,
        c.out_of_school_reason::text as out_of_school_reason,
        c.grade::text as grade,
        c.school_code::text as school_code,
        c.affiliation::text as affiliation,
        c.multiple_enrolment::boolean as multiple_enrolment,
        c.disability::int as disability,
        c.days_absent::int as days_absent,
        c.chronic_absence::boolean as chronic_absence,
        c.poverty_level::text as poverty_level,
        c.income_per_capita_month::numeric(12, 2) as income_per_capita_month,
        c.has_welfare_card::boolean as has_welfare_card,
        c.is_priority::boolean as is_priority,
        -- not in the mart: decides when IN_TRANSFER runs out (int_children__changed)
        c.latest_status_date::date as latest_status_date
    from classified as c
    cross join hmac_pads
),

hashed as (
    select k.*, md5(row(k.*)::text) as row_hash
    from keyed as k
),

{% if is_incremental() %}

previous as (
    select distinct on (v.person_id) v.person_id, v.present, v.row_hash, v.child_key
    from {{ this }} as v
    where v.valid_from < {{ as_of_date() }}
      and v.person_id in (select person_id from {{ ref('int_children__changed') }})
    order by v.person_id, v.valid_from desc
),

{% else %}

previous as (
    select null::text as person_id, null::boolean as present, null::text as row_hash, null::text as child_key
    where false
),

{% endif %}

final as (
    select
        h.person_id, {{ as_of_date() }} as valid_from, null::date as valid_to, true as present,
        h.child_key, h.id_type, h.sex, h.birth_year, h.age, h.province_code, h.district_code,
        h.subdistrict_code, h.lao_code, h.in_registry, h.in_enrolment, h.in_welfare, h.education_status,
        h.out_of_school_reason, h.grade, h.school_code, h.affiliation, h.multiple_enrolment, h.disability,
        h.days_absent, h.chronic_absence, h.poverty_level, h.income_per_capita_month, h.has_welfare_card,
        h.is_priority, h.latest_status_date, h.row_hash, now() as built_at
    from hashed as h
    left join previous as p on p.person_id = h.person_id
    where p.person_id is null or not p.present or p.row_hash <> h.row_hash

    union all

    -- no longer a child (or no longer known): a closing version
    select
        p.person_id, {{ as_of_date() }}, null::date, false,
        p.child_key, null::text, null::text, null::int, null::int, null::text, null::text,
        null::text, null::text, null::boolean, null::boolean, null::boolean, null::text,
        null::text, null::text, null::text, null::text, null::boolean, null::int,
        null::int, null::boolean, null::text, null::numeric(12, 2), null::boolean,
        null::boolean, null::date, null::text, now()
    from previous as p
    left join hashed as h on h.person_id = p.person_id
    where p.present
      and h.person_id is null
)

select * from final
