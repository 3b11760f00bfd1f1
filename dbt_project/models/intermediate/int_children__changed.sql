{{ config(materialized='table', indexes=[{'columns': ['person_id']}]) }}
{%- set plan = children_plan() -%}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_registry__current_state') }}
-- depends_on: {{ ref('int_welfare__screenings_latest') }}
-- depends_on: {{ ref('int_enrolment__changed') }}
-- depends_on: {{ ref('int_enrolment__snapshot_rows') }}
-- The persons whose child-level row this night must recompute (macros/children_versions.sql): on an
-- ordinary night, those whose inputs changed since the previous night P, or whose row changes with
-- time alone; every person when the plan says `all`. Everyone else's row is their latest version.
--
-- {{ plan.mode }}: {{ plan.reason }}
{% if plan.mode == 'all' %}

select person_id from {{ ref('int_registry__current_state') }}
union
select person_id from {{ ref('int_enrolment__snapshot_rows') }}
{% if adapter.get_relation(database=target.database, schema=generate_schema_name('intermediate', none),
                           identifier='int_children__versioned') is not none %}
union
-- a child until now who is in neither source any more still needs a closing version
select person_id from {{ children_relation() }}
where present and valid_from < {{ as_of_date() }} and (valid_to is null or valid_to >= {{ as_of_date() }})
{% endif %}

{% else %}
{%- set previous = "date '" ~ plan.previous ~ "'" -%}
{%- set birthdays = [] -%}
{%- for day in birthdays_between(plan.previous) -%}
    {%- do birthdays.append((day[3:5] | int) * 100 + (day[0:2] | int)) -%}
{%- endfor -%}

-- registry: the persons whose state row was rewritten since P (new or re-dated events), and those
-- with a birthday between P and D (the age, and with it child and school age, may change); both found
-- by the state's indexes (state_change_indexes)
select person_id from {{ ref('int_registry__current_state') }}
where written_for > {{ previous }}
   or {{ birthday_number('birth_date') }} in ({{ birthdays | join(', ') if birthdays else 'null' }})
union
-- welfare: screenings delivered since P (and the person a re-delivered screening left), and
-- screenings entering or leaving their validity window
select replaced_person_id from {{ ref('int_welfare__screenings_latest') }}
where written_for > {{ previous }} and replaced_person_id is not null
union
select person_id from {{ ref('int_welfare__screenings_latest') }}
where person_id is not null
  and (written_for > {{ previous }}
       or screened_on > {{ previous }} and screened_on <= {{ as_of_date() }}
       or screened_on >= {{ previous }} - {{ var('screening_valid_days') }}
          and screened_on < {{ as_of_date() }} - {{ var('screening_valid_days') }})
union
-- enrolment (one read of the two latest snapshots, int_enrolment__changed): a person on the roll with a
-- birthday between P and D (the enrolment's birth date counts when the person is not in the registry),
-- and, when this night reads a newer snapshot than P did, the persons whose roster rows changed
select person_id from {{ ref('int_enrolment__changed') }}
{%- if plan.enrolment != 'changed' %}
where has_birthday
{%- endif %}
union
-- whoever already has a version dated D (a re-run of D recomputes at least what the first run wrote,
-- e.g. a run with EQUITY_RECOMPUTE_ALL_CHILDREN)
select person_id from {{ children_relation() }}
where valid_from = {{ as_of_date() }}
union
-- a transfer whose grace ran out between P and D
select person_id from {{ children_relation() }}
where present and education_status = 'IN_TRANSFER'
  and valid_from <= {{ previous }} and (valid_to is null or valid_to > {{ previous }})
  and {{ as_of_date() }} - latest_status_date >= {{ var('transfer_grace_days') }}

{% endif %}
