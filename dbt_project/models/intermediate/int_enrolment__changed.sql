{{ config(materialized='table', indexes=[{'columns': ['person_id']}]) }}
{%- set snapshots = enrolment_snapshots() -%}
-- The persons whose roster rows differ between this night's enrolment snapshot and the accepted one
-- before it (on a roll in one and not the other, or any value of any of their rows changed). The
-- enrolment history and the child-level state only need to look again at these persons.
--
-- The two snapshots' batch ids are written in as constants, so PostgreSQL opens only those two
-- partitions of raw.enrolment_roster; rows are compared by a 64-bit hash of their raw text
-- (xor-ed per person, with the row count), so nothing needs sorting or decoding.
with

{% for name, batch in [('current_rows', snapshots[0]), ('previous_rows', snapshots[1])] %}
{{ name }} as (
    select
        nullif(trim(person_id), '') as person_id,
        count(*) as row_count,
        bit_xor(hashtextextended(row(school_code, school_name, affiliation, school_subdistrict_code,
                                     home_subdistrict_code, academic_year, term, grade, status, status_date,
                                     days_absent, first_name, last_name, sex, birth_date, disability)::text, 0))
            as row_hash
    from {{ source('raw', 'enrolment_roster') }}
    where _batch_id = {{ batch }}
      and nullif(trim(person_id), '') is not null
    group by 1
),
{% endfor %}

final as (
    select coalesce(c.person_id, p.person_id) as person_id
    from current_rows as c
    full join previous_rows as p on p.person_id = c.person_id
    where c.person_id is null
       or p.person_id is null
       or c.row_count <> p.row_count
       or c.row_hash <> p.row_hash
)

select * from final
