{{ config(materialized='ephemeral') }}
-- depends_on: {{ ref('int_batches__accepted') }}
-- One row per person ever on a roll up to as_of_date, of the persons this night recomputes
-- (int_children__changed): on a roll now, the counting ENROLLED record, and the latest record ever
-- seen (docs/rules.md, "Enrolment history").
-- (int_children__changed is named in each filter, not through a CTE: a CTE read twice is materialised
-- and the planner, blind to its size, would look up 13 M persons one index probe at a time)
{#- this night's snapshot (int_enrolment__rows_to_classify holds rows of the same one) -#}
{%- set latest_snapshot = 'null::date' -%}
{%- if execute -%}
    {%- set found = run_query("select max(extract_date) from " ~ ref('int_batches__accepted')
                              ~ " where source_name = 'enrolment'").rows[0][0] -%}
    {%- if found is not none -%}{%- set latest_snapshot = "date '" ~ found ~ "'" -%}{%- endif -%}
{%- endif %}
with snapshot as (
    select * from {{ ref('int_enrolment__rows_to_classify') }}
    where person_id in (select person_id from {{ ref('int_children__changed') }})
),

enrolled_now as (
    select * from snapshot where status = 'ENROLLED'
),

counting_record as (
    select distinct on (person_id)
        person_id,
        count(*) over (partition by person_id) as enrolled_rolls,
        school_code, affiliation, grade, status, status_date, days_absent, disability,
        sex, birth_date, home_subdistrict_code, school_subdistrict_code
    from enrolled_now
    order by person_id, status_date desc nulls last, school_code desc
),

-- versions up to this night's snapshot (a re-run of a past date ignores later versions). The date is
-- written into the query: as a subquery's value the planner cannot see that it keeps every version
-- and reads all 11 M of them one index entry at a time (8 s against 2 s for a parallel scan).
latest_record as (
    select distinct on (v.person_id) v.*
    from {{ ref('int_enrolment__record_versions') }} as v
    where v.snapshot_date <= {{ latest_snapshot }}
      and v.person_id in (select person_id from {{ ref('int_children__changed') }})
    order by v.person_id, v.snapshot_date desc
),

final as (
    select
        l.person_id,
        l.id_type,
        c.person_id is not null as on_roll_now,
        coalesce(c.enrolled_rolls > 1, false) as multiple_enrolment,
        -- the counting record when enrolled, else the latest record ever seen
        coalesce(c.school_code, l.school_code) as school_code,
        coalesce(c.affiliation, l.affiliation) as affiliation,
        coalesce(c.grade, l.grade) as grade,
        coalesce(c.disability, l.disability) as disability,
        c.days_absent,
        coalesce(c.sex, l.sex) as sex,
        coalesce(c.birth_date, l.birth_date) as birth_date,
        coalesce(c.home_subdistrict_code, l.home_subdistrict_code) as home_subdistrict_code,
        coalesce(c.school_subdistrict_code, l.school_subdistrict_code) as school_subdistrict_code,
        l.status as latest_status,
        l.status_date as latest_status_date,
        l.grade as latest_grade
    from latest_record as l
    left join counting_record as c on c.person_id = l.person_id
)

select * from final
