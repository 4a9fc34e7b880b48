/*
 * The painting controls in the browser: up to four paintings blended, and steering a running job.
 *
 * Slots 2 to 4 open one at a time ("+ Blend another painting"); with more than one painting the
 * job's `start` carries `styles` [{image, blend}] instead of `style`. While a job waits or paints,
 * moving a weight or blend slider sends `steer` once the slider rests; the service's `steered`
 * answer is shown under the loss chart, which marks the step from which the new weights apply.
 * A job followed again after a reload puts its weights and blend now (`accepted.weights`) on the
 * sliders, which steer it from there.
 * The job itself is nst.js's: this file reaches it through nst.js's hooks (window.nstHooks).
 */
(function () {
    "use strict";

    const STEER_DELAY_MS = 500;  // a dragged slider steers once, when it rests
    const STEERABLE = ["style_weight", "content_weight", "tv_weight"];
    const STEERS_WHILE = new Set(["queued", "running"]);
    const ENDED = new Set(["idle", "done", "cancelled", "failed"]);
    const MARK_COLOR = "#fd7e14";

    const set = (id, props) => window.dash_clientside.set_props(id, props);

    // The sliders and images as the page last showed them (slot index 0 is the first painting).
    const page = {count: 1, blends: [], images: [], weights: {}, config: null};
    // The job this page started or follows again (`attached`): its painting slots, the steering
    // values it has now, its marks.
    let job = {phase: "idle", slots: [0], sent: null, marks: [], timer: null, pending: false,
               attached: false};

    function triggeredBy(id) {
        const triggered = window.dash_clientside.callback_context.triggered || [];
        return triggered.some((item) => item.prop_id.startsWith(`${id}.`));
    }

    // Slots ---------------------------------------------------------------------------------------

    function slots(_add, _remove, count, config) {
        const max = config.max_paintings;
        const adding = triggeredBy("add-painting");
        const next = Math.min(max, Math.max(1, count + (adding ? 1 : -1)));
        if (!adding && count > 1) clearSlot(count);
        showSlots(next, max);
        return next;
    }

    function showSlots(count, max) {
        // Kept here, not only by blend(): the set_props below run blend() before the count
        // reaches painting-count.
        page.count = count;
        for (let n = 2; n <= max; n++) {
            set(`painting-${n}`, {class_name: n <= count ? "painting-slot" : "painting-slot d-none"});
        }
        set("add-painting", {disabled: count >= max});
        set("remove-painting", {class_name: "px-0 text-danger" + (count > 1 ? "" : " d-none")});
    }

    function clearSlot(n) {
        set(`style-${n}-image`, {data: null});
        set(`style-${n}-upload`, {contents: null, filename: null, className: "upload-box"});
        set(`style-${n}-preview`, {src: null});
        set(`style-${n}-info`, {children: ""});
        set(`style-${n}-feedback`, {children: ""});
    }

    // The slots that take part: the first painting, and each further open slot with an image.
    function usedSlots() {
        const used = [0];
        for (let index = 1; index < page.count; index++) {
            if (page.images[index]) used.push(index);
        }
        return used;
    }

    function blend(_count, ...args) {
        const config = args.pop();
        const max = config.max_paintings;
        const count = page.count;
        page.blends = args.slice(0, max).map(Number);
        page.images = [null, ...args.slice(max)];
        // A job followed again has its paintings at the service only: its slots take part.
        const used = job.attached && !ENDED.has(job.phase) ? job.slots : usedSlots();
        const total = used.reduce((sum, index) => sum + page.blends[index], 0);
        const shares = [];
        for (let index = 0; index < max; index++) {
            set(`blend-${index + 1}-row`,
                {className: count > 1 && index < count ? "blend-row" : "blend-row d-none"});
            if (!used.includes(index)) {
                shares.push(index < count ? "no image yet" : "");
            } else {
                shares.push(total > 0 ? `${Math.round((100 * page.blends[index]) / total)} %`
                                      : "0 %");
            }
        }
        scheduleSteer();
        return shares;
    }

    // Steering ------------------------------------------------------------------------------------

    function weights(values, ids, config) {
        page.config = config;
        ids.forEach((id, index) => {
            if (STEERABLE.includes(id.name)) page.weights[id.name] = values[index];
        });
        scheduleSteer();
    }

    // What the sliders ask of `slots`' job: the weights as `start` sends them, and the blend.
    function steering(slots) {
        const wanted = {};
        for (const name of STEERABLE) {
            const position = page.weights[name];
            wanted[name] = Number(Math.pow(10, position).toPrecision(3));
        }
        wanted.style_blend = slots.length > 1 ? slots.map((index) => page.blends[index]) : null;
        return wanted;
    }

    function scheduleSteer() {
        if (!job.sent || !STEERS_WHILE.has(job.phase)) return;
        clearTimeout(job.timer);
        job.timer = setTimeout(steer, STEER_DELAY_MS);
    }

    function steer() {
        if (!job.sent || !STEERS_WHILE.has(job.phase)) return;
        const wanted = steering(job.slots);
        const changes = {};
        for (const name of STEERABLE) {
            if (wanted[name] !== job.sent[name]) changes[name] = wanted[name];
        }
        const blends = wanted.style_blend;
        if (blends && blends.join() !== job.sent.style_blend.join()) {
            if (blends.some((weight) => weight > 0)) {
                changes.style_blend = blends;
            } else {
                note("A blend needs at least one painting above 0: the job keeps its blend.");
            }
        }
        if (!Object.keys(changes).length) return;
        set("ws", {send: JSON.stringify(Object.assign({type: "steer"}, changes))});
        job.sent = Object.assign({}, job.sent, changes);
        job.pending = true;
        note(`Steering: ${describe(changes)}, from the next step…`);
    }

    function describe(changes) {
        const knobs = (page.config && page.config.knobs) || {};
        return Object.entries(changes).map(([name, value]) => {
            if (name === "style_blend") {
                const total = value.reduce((sum, weight) => sum + weight, 0) || 1;
                return "blend " + value.map((w) => `${Math.round((100 * w) / total)} %`).join(" / ");
            }
            return `${knobs[name] ? knobs[name].label : name} ${Number(value.toPrecision(3))}`;
        }).join(", ");
    }

    function note(text) {
        set("steer-note", {children: text});
    }

    // nst.js's hooks ------------------------------------------------------------------------------

    const hooks = window.nstHooks;

    hooks.starting = (message) => {
        clearTimeout(job.timer);
        const slots = usedSlots();
        job = {phase: "connecting", slots, sent: steering(slots), marks: [], timer: null,
               pending: false, attached: false};
        note("");
        if (slots.length > 1) {
            message.styles = slots.map((index) => ({
                image: index === 0 ? message.style : page.images[index],
                blend: page.blends[index],
            }));
            delete message.style;
        }
    };

    hooks.attached = (msg, config) => {
        if (!msg.weights) return;
        page.config = config;
        clearTimeout(job.timer);
        const blends = msg.weights.style_blend;
        const slots = blends.map((_, index) => index);
        // A weight beyond its slider's ends (given from the CLI, say) sits at the end: only a
        // slider that is moved steers, so the job keeps it until then.
        for (const name of STEERABLE) {
            const [low, high] = config.knobs[name].positions;
            const position = Math.min(high, Math.max(low, Math.log10(msg.weights[name])));
            page.weights[name] = Math.round(position * 1000) / 1000;
            set({type: "knob", part: "advanced", name}, {value: page.weights[name]});
        }
        blends.forEach((share, index) => {
            page.blends[index] = share;
            set(`blend-${index + 1}`, {value: share});
        });
        showSlots(Math.max(page.count, slots.length), config.max_paintings);
        set("painting-count", {data: page.count});
        job = {phase: job.phase, slots, sent: steering(slots), marks: [], timer: null,
               pending: false, attached: true};
        note("");
    };

    hooks.phase = (name) => {
        const before = job.phase;
        job.phase = name;
        if (STEERS_WHILE.has(name)) {
            if (job.sent && !STEERS_WHILE.has(before)) {
                note("Move a weight (Advanced) or a blend to steer the painting as it forms.");
            }
            scheduleSteer();  // a slider moved while the job was connecting
        } else if (name !== "connecting") {
            clearTimeout(job.timer);
            if (job.pending) {
                note("The job ended before the last steer took effect.");
            } else if (!job.marks.length) {
                note("");  // the hint to steer, now that there is nothing to steer
            }
        }
    };

    hooks.steered = (msg) => {
        job.marks.push(msg.step);
        job.pending = false;
        note(`Steered from step ${msg.step}: ${describe(msg.changes)}.`);
    };

    hooks.lossFigure = (figure) => {
        const layout = figure.layout;
        layout.shapes = job.marks.map((step) => ({
            type: "line", xref: "x", yref: "paper", x0: step, x1: step, y0: 0, y1: 1,
            line: {color: MARK_COLOR, width: 2, dash: "dot"},
        }));
        layout.annotations = (layout.annotations || []).concat(job.marks.map((step) => ({
            text: "steered", x: step, xref: "x", xanchor: "left", y: 1, yref: "paper",
            yanchor: "top", showarrow: false, font: {color: MARK_COLOR, size: 11},
        })));
    };

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        nst_paintings: {slots, blend, weights},
    });
})();
