{#- Parallel scans (pre-hook): each side's 11 M rows are read by two workers and the leader. The
    default parallel_tuple_cost prices the Gather of 11 M narrow rows as if they were wide and plans
    one process. -#}
{{ config(materialized='table', indexes=[{'columns': ['person_id']}],
          pre_hook=["set local parallel_tuple_cost = 0.001", "set local parallel_setup_cost = 0"]) }}
{%- set snapshots = enrolment_snapshots() -%}
{%- set birthdays = birthdays_since_previous_night() -%}
{#- The raw gate already paired tonight's snapshot with an earlier one and stored the persons whose rows
    differ (raw.enrolment_roster_changes); when that earlier one is the snapshot before, those are read
    and only the birthday scan remains. -#}
{%- set stored = false -%}
{%- if execute -%}
    {%- set against = run_query("select changes_against from " ~ source('audit', 'load_batches')
                                ~ " where batch_id = " ~ snapshots[0]).rows -%}
    {%- set stored = against | length > 0 and against[0][0] is not none and against[0][0] == snapshots[1] -%}
{%- endif %}
-- depends_on: {{ source('raw', 'enrolment_roster_changes') }}
-- The persons of this night's enrolment snapshot the child level must look at again, from one read of
-- the two latest accepted snapshots:
-- - rows_changed: their roster rows differ from the accepted snapshot before (a row, person_id
--   included, is in one snapshot and not in the other); the enrolment history looks only at these;
-- - has_birthday: a birth date on their roll record falls after the previous night built and on or
--   before D (the age, and with it child and school age, may change; the raw text DD/MM/YYYY is
--   compared, nothing is decoded).
--
-- The two snapshots' batch ids are written in as constants, so PostgreSQL opens only those two
-- partitions of raw.enrolment_roster. A row is matched on `_row_hash`, the 63-bit hash of its values
-- the loader worked out as it wrote the row (equity.load.ROW_HASHED), in one full join: only the rows
-- without a twin (and the birthday rows) reach the grouping by person, so nothing is grouped at the
-- scale of the roster, and no value is hashed here. A row without a hash (put into raw by other means,
-- or loaded before the loader hashed rows) has no twin: its person counts as changed. A row has no
-- twin in its own snapshot: the loader keeps (person_id, school_code) unique in a batch.
-- On an ordinary night the raw gate has done that pairing already (the same two batches, the same
-- hashes) and stored the persons: they are read, and the snapshot is scanned for the birthdays only.
{%- if stored %}
-- tonight: the persons the raw gate stored for batch {{ snapshots[0] }} against batch {{ snapshots[1] }}
with

unmatched as (
    select person_id, true as rows_changed, false as has_birthday
    from {{ source('raw', 'enrolment_roster_changes') }}
    where _batch_id = {{ snapshots[0] }} and against_batch_id = {{ snapshots[1] }}
    {%- if birthdays %}
    union all
    select nullif(trim(person_id), ''), false, true
    from {{ source('raw', 'enrolment_roster') }}
    where _batch_id = {{ snapshots[0] }}
      and nullif(trim(person_id), '') is not null
      and substr(birth_date, 1, 5) in ('{{ birthdays | join("', '") }}')
    {%- endif %}
),
{%- else %}
with

{% for name, batch in [('current_rows', snapshots[0]), ('previous_rows', snapshots[1])] %}
{{ name }} as (
    select
        nullif(trim(person_id), '') as person_id,
        _row_hash as row_hash
        {%- if loop.first %},
        {% if birthdays %}substr(birth_date, 1, 5) in ('{{ birthdays | join("', '") }}'){% else %}false{% endif %}
            as has_birthday
        {%- endif %}
    from {{ source('raw', 'enrolment_roster') }}
    where _batch_id = {{ batch }}
      and nullif(trim(person_id), '') is not null
),
{% endfor %}

unmatched as (
    select
        coalesce(c.person_id, p.person_id) as person_id,
        (c.row_hash is null or p.row_hash is null) as rows_changed,
        coalesce(c.has_birthday, false) as has_birthday
    from current_rows as c
    full join previous_rows as p on p.row_hash = c.row_hash
    where c.row_hash is null or p.row_hash is null or c.has_birthday
),
{%- endif %}

final as (
    select person_id, bool_or(rows_changed) as rows_changed, bool_or(has_birthday) as has_birthday
    from unmatched
    group by person_id
)

select * from final
