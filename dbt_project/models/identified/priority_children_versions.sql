{{
    config(
        schema='identified',
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['person_id', 'valid_from'], 'unique': true}, {'columns': ['lao_code', 'valid_from']}],
        pre_hook=[
            "{% if is_incremental() %}delete from {{ this }} where valid_from = {{ as_of_date() }}{% else %}drop table if exists {{ list_nights_relation() }}{% endif %}",
        ],
        post_hook=[
            "alter table {{ this }} enable row level security",
            "revoke all on {{ this }} from public",
            "{{ children_versions_close() }}",
            "{{ list_nights_record() }}",
            "{{ analyze_if_stale() }}",
            "do $$ begin if to_regprocedure('identified.secure_priority_children()') is not null then perform identified.secure_priority_children(); end if; end $$",
        ],
    )
}}
-- The identified list of priority children (MARTS.md "Identified access for municipalities") as
-- versions: a row per person each night their listed row changes (listed = true: name, ID, house,
-- school, the reasons) and a closing row (listed = false) the night they leave the list. A person's
-- row as of D is their version with the greatest valid_from <= D; valid_to is the next version's
-- valid_from (post-hook, as int_children__versioned). The nights built are kept beside it
-- (priority_children_versions__nights); the view priority_children spans the versions over them.
-- Personal data: row-level secured (post-hook above, policy in plugins/equity/sql/access.sql);
-- officers read it only through identified.priority_children_for(lao_code, as_of_date).
--
-- On an ordinary night (children_plan: `changes`, and this table holds the previous night P) a
-- person's listed row can only differ from P's if the person is among int_children__changed's: every
-- input of the row (the child's version, roll records and names, registry house, age) is one of
-- theirs, and a change of the reference's subdistrict-to-LAO map makes the plan `all`. So the night
-- lists those persons and compares them with their version before D; everyone else's version stands.
-- Otherwise it lists everyone and compares everyone. A re-run of D replaces D's versions (pre-hook).
{%- set since = list_previous_night() %}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- listed afresh: {{ 'the persons int_children__changed names since ' ~ since if since else 'everyone' }}
{%- set listed_children %}
    select * from {{ ref('int_children__versioned') }}
    where present and is_priority and lao_code is not null
      and valid_from <= {{ as_of_date() }} and (valid_to is null or valid_to > {{ as_of_date() }})
      {%- if since %}
      -- a join, not `= any(array(...))`: the planner cannot see an array's length, took the children
      -- for one row and joined the 46 thousand of a national night by nested loops (minutes)
      and person_id in (select person_id from {{ ref('int_children__changed') }})
      {%- endif %}
{%- endset %}
{#- Their persons, for the history and house lookups. On an ordinary night the children CTE: the
    planner takes its persons for 200 and probes the indexes once per person, right for the 46
    thousand of a national night. Listing everyone, the same plan probed 1.1 M persons at random
    (140 s of a first national night): there the persons come from the table, whose statistics
    the planner reads, and are matched by a hashed join. -#}
{%- set children_persons = ("select person_id from children" if since
                            else "select person_id from (" ~ listed_children ~ ") as everyone") %}
with children as ({{ listed_children }}
),

history as (
    select h.person_id, h.snapshot_date, h.status_date, h.school_code, h.school_name,
           h.first_name, h.last_name
    from {{ ref('int_enrolment__record_versions') }} as h
    where h.person_id in ({{ children_persons }})
      and h.snapshot_date <= (select max(extract_date) from {{ ref('int_batches__accepted') }}
                              where source_name = 'enrolment')
),

-- the name on the latest roll record that has one (the registry extract carries no names)
named as (
    select distinct on (person_id) person_id, first_name, last_name
    from history
    where coalesce(trim(first_name), '') <> '' or coalesce(trim(last_name), '') <> ''
    order by person_id, snapshot_date desc, status_date desc nulls last, school_code desc
),

schools as (
    select distinct on (person_id, school_code) person_id, school_code, school_name
    from history
    order by person_id, school_code, snapshot_date desc
),

-- the house of the person's current registry state
houses as (
    select person_id, house_id
    from {{ ref('int_registry__current_state') }}
    where person_id in ({{ children_persons }})
),

-- the listed values (the LAO's and subdistrict's names are the reference's, looked up by the view)
listed as (
    select
        c.person_id::text as person_id,
        c.lao_code::text as lao_code,
        c.id_type::text as id_type,
        n.first_name::text as first_name,
        n.last_name::text as last_name,
        c.sex::text as sex,
        c.age::int as age,
        c.birth_year::int as birth_year,
        -- the registry house only when the residence is the registry address
        (case when c.in_registry then h.house_id end)::text as house_id,
        c.subdistrict_code::text as subdistrict_code,
        c.school_code::text as school_code,
        s.school_name::text as school_name,
        c.grade::text as grade,
        c.education_status::text as education_status,
        c.out_of_school_reason::text as out_of_school_reason,
        c.poverty_level::text as poverty_level,
        c.chronic_absence::boolean as chronic_absence,
        c.days_absent::int as days_absent,
        array_remove(array[
            case when c.education_status = 'OUT_OF_SCHOOL' then 'OUT_OF_SCHOOL:' || c.out_of_school_reason end,
            case when c.poverty_level = 'EXTREMELY_POOR' then 'EXTREMELY_POOR' end,
            case when c.poverty_level = 'POOR' and c.chronic_absence then 'POOR_AND_CHRONIC_ABSENCE' end
        ], null)::text[] as reasons
    from children as c
    left join named as n on n.person_id = c.person_id
    left join schools as s on s.person_id = c.person_id and s.school_code = c.school_code
    left join houses as h on h.person_id = c.person_id
),

hashed as (
    select l.*, md5(row(l.*)::text) as row_hash
    from listed as l
),

previous as (
{%- if is_incremental() %}
    select distinct on (v.person_id) v.person_id, v.listed, v.row_hash, v.lao_code
    from {{ this }} as v
    where v.valid_from < {{ as_of_date() }}
      {%- if since %}
      and v.person_id in (select person_id from {{ ref('int_children__changed') }})
      {%- endif %}
    order by v.person_id, v.valid_from desc
{%- else %}
    select null::text as person_id, null::boolean as listed, null::text as row_hash, null::text as lao_code
    where false
{%- endif %}
),

final as (
    select
        h.person_id, {{ as_of_date() }}::date as valid_from, null::date as valid_to, true as listed,
        h.lao_code, h.id_type, h.first_name, h.last_name, h.sex, h.age, h.birth_year, h.house_id,
        h.subdistrict_code, h.school_code, h.school_name, h.grade, h.education_status,
        h.out_of_school_reason, h.poverty_level, h.chronic_absence, h.days_absent, h.reasons,
        h.row_hash, now() as built_at
    from hashed as h
    left join previous as p on p.person_id = h.person_id
    where p.person_id is null or not p.listed or p.row_hash <> h.row_hash

    union all

    -- off the list: a closing version (it keeps the LAO, the row-level security key, and nothing else)
    select
        p.person_id, {{ as_of_date() }}::date, null::date, false,
        p.lao_code, null::text, null::text, null::text, null::text, null::int, null::int, null::text,
        null::text, null::text, null::text, null::text, null::text,
        null::text, null::text, null::boolean, null::int, null::text[],
        null::text, now()
    from previous as p
    left join hashed as h on h.person_id = p.person_id
    where p.listed
      and h.person_id is null
)

select * from final
