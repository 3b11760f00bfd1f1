{#-
  The child-level state is kept as versions (int_children__versioned): a night writes a row only for
  the persons whose classification changed since the previous night it was built for, and
  child_equity_profile spans the versions over the nights. The nights are kept beside the versions in
  int_children__versioned__nights (as_of_date, the enrolment snapshot read, the policy and key
  fingerprints), written by `children_nights_record` in the same transaction as the versions.

  `children_plan()` decides, when int_children__changed runs, which persons a night must classify:
  - changes: the persons whose inputs changed since the previous night P (int_children__changed);
  - all:     every person, when there is no earlier night, the policy, the key or the reference's
             subdistrict-to-LAO map changed, a full refresh, the
             enrolment snapshots between P and D were not read in order, or a delta source's state
             was rebuilt since P (a re-statement, re-delivery or re-run: a person may have left it),
             or when the operator sets EQUITY_RECOMPUTE_ALL_CHILDREN (a night then still writes only
             the rows that differ).
-#}

{% macro children_relation(suffix='') -%}
    {{ return(api.Relation.create(database=target.database, schema=generate_schema_name('intermediate', none),
                                  identifier='int_children__versioned' ~ suffix, type='table')) }}
{%- endmacro %}

{#- Every policy number a child's row depends on, as one string (the summaries' own numbers are not
    in it: they are recomputed every night). -#}
{% macro children_policy() -%}
    {%- set names = ['child_age_min', 'child_age_max', 'school_age_min', 'school_age_max', 'transfer_grace_days',
                     'screening_valid_days', 'poverty_line_thb', 'extreme_min_deprivations', 'chronic_absence_days'] -%}
    {%- set parts = [] -%}
    {%- for name in names -%}{%- do parts.append(name ~ '=' ~ var(name)) -%}{%- endfor -%}
    {{- parts | join(';') -}}
{%- endmacro %}

{#- What else every child's row depends on, as one string: the HMAC of a constant under the warehouse
    key (tells a changed key without storing the key) and a hash of the reference's subdistrict-to-LAO
    map (residence). -#}
{% macro children_key_check_sql() -%}
    with {{ hmac_pads_cte() }}
    select {{ child_key("'equity-key-check'") }} || '/' || (
        select md5(coalesce(string_agg(subdistrict_code || ':' || coalesce(lao_code, ''), ',' order by subdistrict_code), ''))
        from {{ ref('stg_reference__subdistricts') }})
    from hmac_pads
{%- endmacro %}

{#- The two latest accepted enrolment snapshots at or before D: [this night's, the one before]. -#}
{% macro enrolment_snapshots() %}
    {% set accepted = ref('int_batches__accepted') %}  {#- outside `execute`: parsing records the dependency #}
    {% if execute %}
        {% set rows = run_query("select batch_id from " ~ accepted
                                ~ " where source_name = 'enrolment' order by extract_date desc limit 2").rows %}
        {% set ids = [] %}
        {% for row in rows %}{% do ids.append(row[0]) %}{% endfor %}
        {{ return((ids + [-1, -1])[:2]) }}
    {% endif %}
    {{ return([-1, -1]) }}
{% endmacro %}

{#- The birthdays (day/month, as 'DD/MM') that fall after `previous` and on or before D: a person born
    on one of them is a year older on D than on `previous`. 29 February counts on 1 March in a year
    without it, as PostgreSQL's age() counts it. -#}
{% macro birthdays_between(previous) %}
    {% set days = [] %}
    {% set d0 = modules.datetime.date.fromisoformat(previous | string) %}
    {% set d1 = modules.datetime.date.fromisoformat(as_of_date_iso()) %}
    {% for i in range(1, (d1 - d0).days + 1) %}
        {% set day = d0 + modules.datetime.timedelta(days=i) %}
        {% do days.append(day.strftime('%d/%m')) %}
        {% if day.month == 3 and day.day == 1 and not (day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)) %}
            {% do days.append('29/02') %}
        {% endif %}
    {% endfor %}
    {{ return(days) }}
{% endmacro %}

{#- The latest night built before D, as recorded beside the versions: a row (as_of_date,
    enrolment_batch, policy, key_check), or none (no such night, no nights table yet). Read from the
    nights table only, so that every model of a run that asks gets the same answer whatever else the
    run has already rebuilt; children_plan and birthdays_since_previous_night both start from it. -#}
{% macro previous_night() %}
    {% if execute %}
        {% set nights = adapter.get_relation(database=target.database, schema=generate_schema_name('intermediate', none),
                                             identifier='int_children__versioned__nights') %}
        {% if nights is not none %}
            {% set rows = run_query("select as_of_date, enrolment_batch, policy, key_check from " ~ nights
                                    ~ " where as_of_date < " ~ as_of_date() ~ " order by as_of_date desc limit 1").rows %}
            {% if rows %}{{ return(rows[0]) }}{% endif %}
        {% endif %}
    {% endif %}
    {{ return(none) }}
{% endmacro %}

{#- The birthdays (as birthdays_between) since previous_night(); none when there is no such night, it is
    more than 300 days back, or on a full refresh (children_plan then classifies everyone). -#}
{% macro birthdays_since_previous_night() %}
    {% set night = none if flags.FULL_REFRESH else previous_night() %}
    {% if night is not none
          and (modules.datetime.date.fromisoformat(as_of_date_iso()) - night[0]).days <= 300 %}
        {{ return(birthdays_between(night[0])) }}
    {% endif %}
    {{ return([]) }}
{% endmacro %}

{% macro children_plan(announce=true) %}
    {% set plan = {'mode': 'all', 'reason': 'first night', 'previous': none, 'enrolment': 'all'} %}
    {% if execute %}
        {% set versions = adapter.get_relation(database=target.database, schema=generate_schema_name('intermediate', none),
                                               identifier='int_children__versioned') %}
        {% set nights = adapter.get_relation(database=target.database, schema=generate_schema_name('intermediate', none),
                                             identifier='int_children__versioned__nights') %}
        {% if flags.FULL_REFRESH %}
            {% do plan.update({'reason': 'a full refresh'}) %}
        {% elif env_var('EQUITY_RECOMPUTE_ALL_CHILDREN', '') | lower in ('1', 'true', 'yes') %}
            {% do plan.update({'reason': 'EQUITY_RECOMPUTE_ALL_CHILDREN is set'}) %}
        {% elif versions is none or nights is none %}
            {% do plan.update({'reason': 'no versions yet'}) %}
        {% else %}
            {% set night = previous_night() %}
            {% set snapshots = enrolment_snapshots() %}
            {% set key_check = run_query(children_key_check_sql()).rows[0][0] %}
            {% if night is none %}
                {% do plan.update({'reason': 'no earlier night'}) %}
            {% elif (modules.datetime.date.fromisoformat(as_of_date_iso()) - night[0]).days > 300 %}
                {% do plan.update({'reason': 'the previous night is more than 300 days back'}) %}
            {% elif night[2] != children_policy() %}
                {% do plan.update({'reason': 'the policy changed'}) %}
            {% elif night[3] != key_check %}
                {% do plan.update({'reason': 'the key or the reference changed'}) %}
            {% elif night[1] != snapshots[0] and night[1] != snapshots[1] %}
                {% do plan.update({'reason': 'the enrolment snapshots since the previous night were not read in order'}) %}
            {% else %}
                {% set previous = night[0] %}
                {% set rebuilt = [] %}
                {% for side in ['int_registry__current_state__batches', 'int_welfare__screenings_latest__batches'] %}
                    {% set rel = adapter.get_relation(database=target.database, schema=generate_schema_name('intermediate', none), identifier=side) %}
                    {% if rel is not none %}
                        {% set n = run_query("select count(*), count(*) filter (where taken_for <= date '" ~ previous ~ "') from " ~ rel).rows[0] %}
                        {% if n[0] > 0 and n[1] == 0 %}{% do rebuilt.append(side) %}{% endif %}
                    {% endif %}
                {% endfor %}
                {% if rebuilt %}
                    {% do plan.update({'reason': 'a source state was rebuilt since the previous night (' ~ (rebuilt | join(', ')) ~ ')'}) %}
                {% else %}
                    {% do plan.update({'mode': 'changes', 'previous': previous,
                                       'enrolment': ('same' if night[1] == snapshots[0] else 'changed'),
                                       'reason': 'the persons whose inputs changed since ' ~ previous}) %}
                {% endif %}
            {% endif %}
        {% endif %}
        {% if announce %}{% do log('int_children__changed: ' ~ plan.mode ~ ' (' ~ plan.reason ~ ')', info=True) %}{% endif %}
    {% endif %}
    {{ return(plan) }}
{% endmacro %}

{#- On an ordinary night (children_plan: `changes`), the previous night P as a date literal when this
    incremental model already holds P's rows (`column` = P): the model can then carry P's rows over and
    work out only the change. Else none, and the model builds the night from everything. -#}
{% macro previous_night_rows(column='as_of_date') %}
    {% set plan = children_plan(announce=false) %}
    {% if execute and is_incremental() and plan.mode == 'changes' %}
        {% set found = run_query("select exists (select 1 from " ~ this ~ " where " ~ column ~ " = date '" ~ plan.previous ~ "')").rows[0][0] %}
        {% if found %}{{ return("date '" ~ plan.previous ~ "'") }}{% endif %}
    {% endif %}
    {{ return(none) }}
{% endmacro %}

{#- post_hook of int_children__versioned: indexes named and created if missing, so a warehouse built
    before them gains them on its next night (`indexes` in a model's config apply only when dbt creates
    the table). built_at: publishing finds the versions written since the last publish by it (equity.publish); its
    values only grow (now()), so a night's rows go to its last pages; an index on the random child_key
    was tried and cost 10 s a night in page reads and writes on 0.16 M inserts (docs/benchmarks.md). -#}
{% macro children_versions_indexes() %}
    create index if not exists {{ this.identifier }}_built_at on {{ this }} (built_at);
    -- the transfers whose grace may run out (int_children__changed): a few thousand versions of 11 M,
    -- found by this small index in 0.2 s where a scan of every version took 5 s
    create index if not exists {{ this.identifier }}_in_transfer on {{ this }} (valid_from)
        where present and education_status = 'IN_TRANSFER';
{% endmacro %}

{#- post_hook of int_children__versioned: each version is valid until the person's next one
    (a re-run of D removed D's versions in the pre-hook; their predecessors are re-opened here).
    When every version is D's and open (a first night, a full refresh) there is one per person and
    nothing to close: the statement is skipped, as the window over every person cost minutes at
    national size (the planner takes the persons for 200 and probes the index 11 M times). -#}
{% macro children_versions_close() %}
    {%- set mode = children_plan(announce=false).mode %}
    {%- set others = true %}
    {%- if execute and mode != 'changes' %}
        {%- set others = run_query("select exists (select from " ~ this ~ " where valid_from < " ~ as_of_date()
                                   ~ " or valid_from > " ~ as_of_date() ~ " or valid_to is not null)").rows[0][0] %}
    {%- endif %}
    {%- if not others %}
    select 'every version is of {{ as_of_date_iso() }} and open: nothing to close'
    {%- else %}
    with touched as materialized (
        select distinct person_id from {{ this }}
        where valid_from = {{ as_of_date() }} or valid_to = {{ as_of_date() }}
    ),

    x as (
        select person_id, valid_from, lead(valid_from) over (partition by person_id order by valid_from) as next_from
        from {{ this }}
        {%- if mode == 'changes' %}
        -- an ordinary night touched a few percent of the persons: their versions are read by the
        -- (person_id, valid_from) index, in key order, as an array of persons; as a join the planner
        -- hashes them and scans every version
        where person_id = any(array(select person_id from touched))
        {%- else %}
        where person_id in (select person_id from touched)
        {%- endif %}
    )

    update {{ this }} as v
    set valid_to = x.next_from, built_at = now()
    from x
    where v.person_id = x.person_id and v.valid_from = x.valid_from and v.valid_to is distinct from x.next_from
    {%- endif %}
{% endmacro %}

{#- post_hook of int_children__versioned: record the night (what it read, under which policy and key). -#}
{% macro children_nights_record() %}
    {% set side = children_relation('__nights') %}
    {% set snapshots = enrolment_snapshots() %}
    create table if not exists {{ side }} (
        as_of_date date primary key, enrolment_batch bigint, policy text not null, key_check text not null,
        built_at timestamptz not null default now());
    delete from {{ side }} where as_of_date = {{ as_of_date() }};
    insert into {{ side }} (as_of_date, enrolment_batch, policy, key_check)
    select {{ as_of_date() }}, {{ snapshots[0] }}, '{{ children_policy() }}', ({{ children_key_check_sql() }});
{% endmacro %}
