{#- The enrolment roster's columns renamed, cast and decoded from raw.enrolment_roster's text, as one
    select list. stg_enrolment__roster is this over every raw row; int_enrolment__rows_to_classify
    applies it to the few rows it keeps, after filtering on the raw person_id: PostgreSQL computes a
    view's expressions where it scans the table, so filtering the staging view would decode all 11 M
    rows of a national snapshot to keep a few hundred thousand. -#}
{% macro enrolment_roster_columns() %}
        -- lineage
        _batch_id as batch_id,
        _file as source_file,
        _line as source_line,
        -- who and where
        nullif(trim(person_id), '') as person_id,
        case when person_id ~ '^G' then 'G_CODE' else 'NATIONAL_ID' end as id_type,
        school_code,
        school_name,
        affiliation,
        school_subdistrict_code,
        home_subdistrict_code,
        -- roll record
        {{ as_int('academic_year') }} as academic_year_be,
        {{ as_int('term') }} as term,
        grade,
        status,
        {{ iso_date('status_date') }} as status_date,
        {{ as_int('days_absent') }} as days_absent,
        -- the child
        first_name,
        last_name,
        sex,
        {{ be_date_dmy('birth_date') }} as birth_date,
        coalesce({{ as_int('disability') }}, 0) as disability
{%- endmacro %}
