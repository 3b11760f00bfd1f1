{{
    config(
        schema='identified',
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lao_code', 'as_of_date']}, {'columns': ['as_of_date']}],
        post_hook=[
            "analyze {{ this }}",
            "alter table {{ this }} enable row level security",
            "revoke all on {{ this }} from public",
            "do $$ begin if to_regprocedure('identified.secure_priority_children()') is not null then perform identified.secure_priority_children(); end if; end $$",
        ],
    )
}}
-- The identified list of priority children per LAO and as_of_date, for municipal officers
-- (MARTS.md "Identified access for municipalities"): name, ID, address, school and the reasons the
-- child is a priority. Personal data: row-level secured (post-hook above, policy in
-- plugins/equity/sql/access.sql); officers read it only through the audited function
-- identified.priority_children_for(lao_code, as_of_date). A run for D replaces exactly D.
--
-- On an ordinary night (children_plan: `changes`) a child's row here can only differ from the previous
-- night P's if the child is among int_children__changed's persons: every input of the row (the child's
-- version, roll records and names, registry house, age) is one of theirs, and a change of the reference's
-- subdistrict-to-LAO map makes the plan `all`. So the night lists those persons afresh and carries every
-- other row of P's list over (with the LAO's and subdistrict's names looked up again); it lists everyone
-- when P's list is not there.
-- The post-hook's `analyze` gives the next night's carry-over statistics of this night's rows: the
-- pipeline does not count on autovacuum (it may be off), and without them the planner expected a few
-- thousand rows and sorted a million to merge-join the reference's names.
{%- set carry = previous_night_rows() %}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- listed afresh: {{ 'the persons int_children__changed names; the rest carried over from ' ~ carry if carry else 'everyone' }}
with children as (
    select * from {{ ref('int_children__versioned') }}
    where present and is_priority and lao_code is not null
      and valid_from <= {{ as_of_date() }} and (valid_to is null or valid_to > {{ as_of_date() }})
      {%- if carry %}
      and person_id in (select person_id from {{ ref('int_children__changed') }})
      {%- endif %}
),

history as (
    select h.person_id, h.snapshot_date, h.status_date, h.school_code, h.school_name,
           h.first_name, h.last_name
    from {{ ref('int_enrolment__record_versions') }} as h
    where h.person_id in (select person_id from children)
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
    where person_id in (select person_id from children)
),

final as (
    select
        {{ as_of_date() }}::date as as_of_date,
        c.lao_code::text as lao_code,
        l.lao_name::text as lao_name,
        c.person_id::text as person_id,
        c.id_type::text as id_type,
        n.first_name::text as first_name,
        n.last_name::text as last_name,
        c.sex::text as sex,
        c.age::int as age,
        c.birth_year::int as birth_year,
        -- the registry house only when the residence is the registry address
        (case when c.in_registry then h.house_id end)::text as house_id,
        c.subdistrict_code::text as subdistrict_code,
        sd.subdistrict_name::text as subdistrict_name,
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
    left join {{ ref('stg_reference__subdistricts') }} as sd on sd.subdistrict_code = c.subdistrict_code
    left join {{ ref('stg_reference__laos') }} as l on l.lao_code = c.lao_code
),

{%- if carry %}

-- the reference's names are looked up again (a renamed LAO or subdistrict does not change the plan)
carried as (
    select {{ as_of_date() }}::date as as_of_date, p.lao_code, l.lao_name::text as lao_name, p.person_id,
           p.id_type, p.first_name, p.last_name, p.sex, p.age, p.birth_year, p.house_id, p.subdistrict_code,
           sd.subdistrict_name::text as subdistrict_name, p.school_code, p.school_name, p.grade,
           p.education_status, p.out_of_school_reason, p.poverty_level, p.chronic_absence, p.days_absent,
           p.reasons
    from {{ this }} as p
    left join {{ ref('stg_reference__subdistricts') }} as sd on sd.subdistrict_code = p.subdistrict_code
    left join {{ ref('stg_reference__laos') }} as l on l.lao_code = p.lao_code
    where p.as_of_date = {{ carry }}
      and p.person_id not in (select person_id from {{ ref('int_children__changed') }})
),
{%- endif %}

listed as (
    select * from final
    {%- if carry %}
    union all
    select * from carried
    {%- endif %}
)

select * from listed
