{{ config(materialized='view') }}
-- One row per child per as_of_date, pseudonymous (MARTS.md): each child's version of the child-level
-- state (int_children__versioned) on every night it was valid. A night writes only the versions that
-- changed; this view spans them over the nights built, so reading one as_of_date reads one version
-- per child. person_id stays behind: the view exposes the columns below only.
select
    v.child_key,
    n.as_of_date,
    v.id_type,
    v.sex,
    v.birth_year,
    v.age,
    v.province_code,
    v.district_code,
    v.subdistrict_code,
    v.lao_code,
    v.in_registry,
    v.in_enrolment,
    v.in_welfare,
    v.education_status,
    v.out_of_school_reason,
    v.grade,
    v.school_code,
    v.affiliation,
    v.multiple_enrolment,
    v.disability,
    v.days_absent,
    v.chronic_absence,
    v.poverty_level,
    v.income_per_capita_month,
    v.has_welfare_card,
    v.is_priority
from {{ ref('int_children__versioned') }} as v
inner join {{ children_relation('__nights') }} as n
    on n.as_of_date >= v.valid_from and (v.valid_to is null or n.as_of_date < v.valid_to)
where v.present
