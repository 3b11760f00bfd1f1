{{
    config(
        schema='identified',
        materialized='view',
        post_hook=[
            "alter view {{ this }} set (security_invoker = true)",
            "revoke all on {{ this }} from public",
            "do $$ begin if to_regprocedure('identified.secure_priority_children()') is not null then perform identified.secure_priority_children(); end if; end $$",
        ],
    )
}}
-- The identified list of priority children per LAO and as_of_date, for municipal officers
-- (MARTS.md "Identified access for municipalities"): each night's list spanned from the versions
-- (priority_children_versions) over the nights built, with the LAO's and subdistrict's names as the
-- reference has them now. A security-invoker view: the versions' row-level security applies to
-- whoever reads it; officers read it only through the audited function
-- identified.priority_children_for(lao_code, as_of_date).
{%- set versions = ref('priority_children_versions') %}
select
    n.as_of_date,
    v.lao_code,
    l.lao_name::text as lao_name,
    v.person_id,
    v.id_type,
    v.first_name,
    v.last_name,
    v.sex,
    v.age,
    v.birth_year,
    v.house_id,
    v.subdistrict_code,
    sd.subdistrict_name::text as subdistrict_name,
    v.school_code,
    v.school_name,
    v.grade,
    v.education_status,
    v.out_of_school_reason,
    v.poverty_level,
    v.chronic_absence,
    v.days_absent,
    v.reasons
from {{ list_nights_relation(versions) }} as n
join {{ versions }} as v
  on v.valid_from <= n.as_of_date and (v.valid_to is null or v.valid_to > n.as_of_date)
left join {{ ref('stg_reference__subdistricts') }} as sd on sd.subdistrict_code = v.subdistrict_code
left join {{ ref('stg_reference__laos') }} as l on l.lao_code = v.lao_code
where v.listed
