{{ config(materialized='table', indexes=[{'columns': ['person_id']}]) }}
{%- set snapshots = enrolment_snapshots() -%}
{%- set birthdays = birthdays_since_previous_night() -%}
-- The persons of this night's enrolment snapshot the child level must look at again, from one read of
-- the two latest accepted snapshots:
-- - rows_changed: their roster rows differ from the accepted snapshot before (on a roll in one and not
--   the other, or any value of any of their rows changed); the enrolment history looks only at these;
-- - has_birthday: a birth date on their roll record falls after the previous night built and on or
--   before D (the age, and with it child and school age, may change; the raw text DD/MM/YYYY is
--   compared, nothing is decoded).
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
        {%- if loop.first %},
        {% if birthdays %}bool_or(substr(birth_date, 1, 5) in ('{{ birthdays | join("', '") }}')){% else %}false{% endif %}
            as has_birthday
        {%- endif %}
    from {{ source('raw', 'enrolment_roster') }}
    where _batch_id = {{ batch }}
      and nullif(trim(person_id), '') is not null
    group by 1
),
{% endfor %}

compared as (
    select
        coalesce(c.person_id, p.person_id) as person_id,
        (c.person_id is null or p.person_id is null
         or c.row_count <> p.row_count or c.row_hash <> p.row_hash) as rows_changed,
        coalesce(c.has_birthday, false) as has_birthday
    from current_rows as c
    full join previous_rows as p on p.person_id = c.person_id
),

final as (
    select person_id, rows_changed, has_birthday
    from compared
    where rows_changed or has_birthday
)

select * from final
