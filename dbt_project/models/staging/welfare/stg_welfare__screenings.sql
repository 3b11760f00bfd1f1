-- One row per screening line of every loaded welfare batch: renamed and cast. No joins.
with source as (
    select * from {{ source('raw', 'welfare_screenings') }}
),

final as (
    select
        _batch_id as batch_id,
        _file as source_file,
        _line as source_line,
        screening_id,
        nullif(trim(person_id), '') as person_id,
        household_id,
        {{ iso_date('screened_on') }} as screened_on,
        {{ as_int('household_size') }} as household_size,
        {{ as_numeric('household_income_month') }} as household_income_month,
        caregiver,
        {{ as_bool('has_welfare_card') }} as has_welfare_card,
        housing,
        {{ as_bool('electricity') }} as electricity,
        {{ as_bool('clean_water') }} as clean_water,
        {{ as_bool('farm_land') }} as farm_land,
        vehicle,
        action
    from source
)

select * from final
