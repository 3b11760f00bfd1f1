-- One row per roster line of every loaded enrolment batch: renamed, cast, decoded. No joins.
with source as (
    select * from {{ source('raw', 'enrolment_roster') }}
),

final as (
    select
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
    from source
)

select * from final
