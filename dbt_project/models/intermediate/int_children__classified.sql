{{ config(materialized='ephemeral') }}
-- Persons resolved across sources and classified as of as_of_date: who is a child, where they live,
-- their education status and poverty level (docs/rules.md), for the persons this night recomputes
-- (int_children__changed; every person on a first night). Still identified: person_id is here;
-- the marts replace it with child_key.
with registry as (
    select * from {{ ref('int_registry__current_state') }}
    where person_id in (select person_id from {{ ref('int_children__changed') }})
),

enrolment as (
    select * from {{ ref('int_enrolment__status_resolved') }}
),

screening as (
    select * from {{ ref('int_welfare__current_screening') }}
),

subdistricts as not materialized (
    select * from {{ ref('stg_reference__subdistricts') }}
),

persons as (
    select
        coalesce(r.person_id, e.person_id) as person_id,
        r.person_id is not null as in_registry_any,
        coalesce(r.has_current_address, false) as has_current_address,
        coalesce(e.on_roll_now, false) as on_roll_now,
        e.person_id is not null as ever_enrolled,
        not coalesce(r.is_dead, false) and coalesce(e.latest_status, '') <> 'DECEASED' as alive,
        case when r.person_id is not null then r.birth_date else e.birth_date end as birth_date,
        case when r.person_id is not null then r.sex else e.sex end as sex,
        r.subdistrict_code as registry_subdistrict_code,
        r.lao_code as registry_lao_code,
        e.multiple_enrolment,
        e.school_code,
        e.affiliation,
        e.grade,
        e.disability,
        e.days_absent,
        e.home_subdistrict_code,
        e.school_subdistrict_code,
        e.latest_status,
        e.latest_status_date,
        e.latest_grade
    from registry as r
    full outer join enrolment as e on e.person_id = r.person_id
),

aged as (
    select
        p.*,
        extract(year from age({{ as_of_date() }}, p.birth_date))::int as age
    from persons as p
),

children as (
    select *
    from aged
    where alive
      and age between {{ var('child_age_min') }} and {{ var('child_age_max') }}
      and (has_current_address or on_roll_now)
),

placed as (
    select
        c.*,
        case
            when c.has_current_address then c.registry_subdistrict_code
            when home.subdistrict_code is not null then home.subdistrict_code
            else school.subdistrict_code
        end as residence_subdistrict_code,
        case
            when c.has_current_address then c.registry_lao_code
            when home.subdistrict_code is not null then home.lao_code
            else school.lao_code
        end as residence_lao_code
    from children as c
    left join subdistricts as home on home.subdistrict_code = c.home_subdistrict_code
    left join subdistricts as school on school.subdistrict_code = c.school_subdistrict_code
),

classified as (
    select
        p.*,
        p.age between {{ var('school_age_min') }} and {{ var('school_age_max') }} as is_school_age,
        case
            when p.on_roll_now then 'ENROLLED'
            when p.latest_status = 'GRADUATED' and p.latest_grade in ('M6', 'V3') then 'COMPLETED'
            when p.latest_status = 'TRANSFERRED'
                 and {{ as_of_date() }} - p.latest_status_date < {{ var('transfer_grace_days') }} then 'IN_TRANSFER'
            when p.age between {{ var('school_age_min') }} and {{ var('school_age_max') }} then 'OUT_OF_SCHOOL'
            else 'NOT_SCHOOL_AGE'
        end as education_status
    from placed as p
),

final as (
    select
        c.person_id,
        case when c.person_id ~ '^G' then 'G_CODE' else 'NATIONAL_ID' end as id_type,
        c.sex,
        extract(year from c.birth_date)::int as birth_year,
        c.age,
        left(c.residence_subdistrict_code, 2) as province_code,
        left(c.residence_subdistrict_code, 4) as district_code,
        c.residence_subdistrict_code as subdistrict_code,
        c.residence_lao_code as lao_code,
        c.has_current_address as in_registry,
        c.on_roll_now as in_enrolment,
        s.person_id is not null as in_welfare,
        c.education_status,
        case
            when c.education_status <> 'OUT_OF_SCHOOL' then null
            when not c.ever_enrolled then 'NEVER_ENROLLED'
            when c.latest_status = 'GRADUATED' then 'NOT_CONTINUED'
            when c.latest_status = 'TRANSFERRED' then 'LOST_IN_TRANSFER'
            else 'DROPPED_OUT'
        end as out_of_school_reason,
        -- the record that decided the status; none decides NOT_SCHOOL_AGE or NEVER_ENROLLED
        case when c.education_status <> 'NOT_SCHOOL_AGE' then c.grade end as grade,
        case when c.education_status <> 'NOT_SCHOOL_AGE' then c.school_code end as school_code,
        case when c.education_status <> 'NOT_SCHOOL_AGE' then c.affiliation end as affiliation,
        coalesce(c.multiple_enrolment, false) as multiple_enrolment,
        coalesce(c.disability, 0) as disability,
        case when c.on_roll_now then c.days_absent end as days_absent,
        coalesce(c.on_roll_now and c.days_absent >= {{ var('chronic_absence_days') }}, false) as chronic_absence,
        case
            when s.person_id is null then 'UNSCREENED'
            when s.poor_by_income and s.deprivations >= {{ var('extreme_min_deprivations') }} then 'EXTREMELY_POOR'
            when s.poor_by_income then 'POOR'
            else 'NOT_POOR'
        end as poverty_level,
        s.income_per_capita_month,
        s.has_welfare_card,
        c.latest_status_date
    from classified as c
    left join screening as s on s.person_id = c.person_id
)

select
    *,
    education_status = 'OUT_OF_SCHOOL'
    or poverty_level = 'EXTREMELY_POOR'
    or (poverty_level = 'POOR' and chronic_absence) as is_priority
from final
